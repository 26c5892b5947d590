// The OpenAI Responses API as Codex uses it: POST /v1/responses, an SSE stream
// (response.created, response.output_item.added/done, response.output_text.delta, ...,
// response.completed) when the request says stream:true, else one JSON response.

import {
  TOOL_INTRO,
  chunks,
  estimateTokens,
  finalText,
  mockId,
  sendJson,
  sleep,
  sseEvent,
  startSse,
} from './common.mjs';

function inputItems(body) {
  if (typeof body.input === 'string') return [{ type: 'message', role: 'user', content: body.input }];
  return Array.isArray(body.input) ? body.input : [];
}

// The user's texts (Codex sends the prompt and an <environment_context> as user messages),
// where the scenario marker is looked for; tool outputs are separate items, not searched.
export function openaiTexts(body) {
  const texts = [];
  for (const item of inputItems(body)) {
    if (item?.role !== 'user') continue;
    if (typeof item.content === 'string') texts.push(item.content);
    else if (Array.isArray(item.content)) {
      for (const part of item.content) {
        if (part?.type === 'input_text' || part?.type === 'text') texts.push(String(part.text ?? ''));
      }
    }
  }
  return texts;
}

// The output of the mock's own earlier tool call, when it follows the last user message.
function toolResult(body) {
  const items = inputItems(body);
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item?.type === 'message' && item.role === 'user') break;
    const isOutput = item?.type === 'function_call_output' || item?.type === 'custom_tool_call_output';
    if (!isOutput || !String(item.call_id ?? '').startsWith('call_mock')) continue;
    const output = item.output;
    if (typeof output === 'string') return output;
    if (Array.isArray(output)) return output.map((part) => part?.text ?? '').join('');
    if (output && typeof output === 'object') return String(output.content ?? JSON.stringify(output));
    return '';
  }
  return null;
}

// All tools offered, flattened: top-level `tools` and the `additional_tools` input items
// Codex uses for namespaced tools (a call then names its namespace).
function offeredTools(body) {
  const found = [];
  const walk = (tools, namespace) => {
    for (const tool of tools ?? []) {
      if (tool?.type === 'namespace') walk(tool.tools, tool.name);
      else found.push({ ...tool, namespace });
    }
  };
  walk(body.tools, null);
  for (const item of inputItems(body)) {
    if (item?.type === 'additional_tools') walk(item.tools, null);
  }
  return found;
}

// The shell call to make: exec_command (unified exec) or shell (older tool set) as a
// function call, else the code-mode `exec` custom tool (Codex's default model gets only
// that), running JavaScript that calls exec_command.
function toolCall(body, callId) {
  const tools = offeredTools(body);
  const pick = (name, type) => tools.find((tool) => tool.name === name && tool.type === type);
  let tool = pick('exec_command', 'function');
  if (tool) return functionCall(tool, callId, { cmd: 'ls' });
  tool = pick('shell', 'function');
  if (tool) return functionCall(tool, callId, { command: ['bash', '-lc', 'ls'] });
  tool = pick('exec', 'custom');
  if (tool) {
    const input =
      'const result = await tools.exec_command({ cmd: "ls" });\n' +
      'text(typeof result === "string" ? result : JSON.stringify(result));\n';
    return withNamespace(tool, { type: 'custom_tool_call', call_id: callId, name: tool.name, input });
  }
  return functionCall({ name: 'exec_command', namespace: null }, callId, { cmd: 'ls' });
}

function functionCall(tool, callId, args) {
  const item = { type: 'function_call', call_id: callId, name: tool.name, arguments: JSON.stringify(args) };
  return withNamespace(tool, item);
}

function withNamespace(tool, item) {
  const out = { ...item, status: 'completed' };
  if (tool.namespace) out.namespace = tool.namespace;
  return out;
}

function assistantMessage(id, text, phase) {
  return {
    id,
    type: 'message',
    status: 'completed',
    role: 'assistant',
    phase,
    content: [{ type: 'output_text', text, annotations: [] }],
  };
}

const ERRORS = {
  overloaded: [
    503,
    'server_error',
    'server_overloaded',
    'The server is overloaded (mock). Please retry later.',
  ],
  ratelimited: [
    429,
    'rate_limit_error',
    'rate_limit_exceeded',
    'Rate limit reached for requests (mock). Please try again in 1s.',
  ],
  unauthorized: [401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided (mock).'],
};

function sendError(res, kind, requestId) {
  const [status, type, code, message] = ERRORS[kind];
  const headers = { 'x-request-id': requestId };
  if (status === 429) headers['retry-after'] = '1';
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

// Answers one request; `record` (see mock-model.mjs) says which scenario applies and gets
// the usage and whether a tool result came back.
export async function handleOpenai(res, body, record) {
  const requestId = mockId('req_mock', record.seq);
  const output = toolResult(body);
  record.tool_result = output != null;
  const mode = record.effective;

  if (ERRORS[mode]) return sendError(res, mode, requestId);
  if (mode === 'slow') await sleep(Number(record.scenario_arg ?? 5000));

  const items = [];
  if (mode === 'tool' && output == null) {
    items.push(assistantMessage(`${mockId('msg_mock', record.seq)}a`, TOOL_INTRO, 'commentary'));
    items.push({ id: mockId('fc_mock', record.seq), ...toolCall(body, mockId('call_mock', record.seq)) });
  } else {
    items.push(assistantMessage(mockId('msg_mock', record.seq), finalText(output), 'final_answer'));
  }

  // After a tool call most of the prompt is a cache hit, as with the real service.
  const inputTokens = estimateTokens(
    JSON.stringify(body.input ?? '') + JSON.stringify(body.tools ?? []) + String(body.instructions ?? ''),
  );
  const outputTokens = items.reduce(
    (sum, item) => sum + estimateTokens(item.content?.[0]?.text ?? item.arguments ?? item.input ?? ''),
    0,
  );
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: output != null ? Math.floor(inputTokens * 0.8) : 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
  record.usage = usage;

  const model = body.model ?? 'gpt-mock';
  const created = Math.floor(Date.now() / 1000);
  const response = (status, outputItems, withUsage) => ({
    id: mockId('resp_mock', record.seq),
    object: 'response',
    created_at: created,
    status,
    model,
    output: outputItems,
    parallel_tool_calls: false,
    tool_choice: 'auto',
    usage: withUsage ? usage : null,
  });
  const headers = { 'x-request-id': requestId, 'openai-model': model };
  if (!body.stream) return sendJson(res, 200, response('completed', items, true), headers);

  startSse(res, headers);
  let sequence = 0;
  const emit = (type, fields) => sseEvent(res, type, { type, sequence_number: sequence++, ...fields });
  emit('response.created', { response: response('in_progress', [], false) });
  emit('response.in_progress', { response: response('in_progress', [], false) });
  for (const [index, item] of items.entries()) {
    const at = { item_id: item.id, output_index: index };
    // output_item.added carries the item as it starts: in progress, without its content.
    const added = (empty) => {
      const started = { ...item, status: 'in_progress', ...empty };
      emit('response.output_item.added', { output_index: index, item: started });
    };
    if (item.type === 'message') {
      const part = item.content[0];
      added({ content: [] });
      emit('response.content_part.added', { ...at, content_index: 0, part: { ...part, text: '' } });
      for (const piece of chunks(part.text)) {
        emit('response.output_text.delta', { ...at, content_index: 0, delta: piece });
      }
      if (mode === 'stream-error') {
        const error = { code: 'server_is_overloaded', message: 'The server is overloaded (mock).' };
        emit('response.failed', { response: { ...response('failed', [], false), error } });
        return res.end();
      }
      emit('response.output_text.done', { ...at, content_index: 0, text: part.text });
      emit('response.content_part.done', { ...at, content_index: 0, part });
    } else if (item.type === 'function_call') {
      added({ arguments: '' });
      emit('response.function_call_arguments.delta', { ...at, delta: item.arguments });
      emit('response.function_call_arguments.done', { ...at, arguments: item.arguments });
    } else {
      added({ input: '' });
      emit('response.custom_tool_call_input.delta', { ...at, delta: item.input });
      emit('response.custom_tool_call_input.done', { ...at, input: item.input });
    }
    emit('response.output_item.done', { output_index: index, item });
  }
  emit('response.completed', { response: response('completed', items, true) });
  res.end();
}

#!/usr/bin/env node
// A local stand-in for the model services the agent CLIs talk to, so corral's agent-job
// tests run the real `claude` and `codex` binaries without calling a real model.
//
//   node tests/agent/mock-model.mjs [--port N] [--host 127.0.0.1] [--overload-count N]
//                                   [--ignore-stdin] [--log FILE]
//
// Prints exactly one line, `PORT=<n>`, on stdout once listening (port 0, the default, picks
// a free one). Exits on SIGTERM/SIGINT, and when stdin (a pipe, socket or terminal) closes,
// so a test harness holding a pipe to it cannot leak the server; --ignore-stdin turns that
// off. Stdin from /dev/null (a shell's background job) is not watched.
//
// APIs served:
//   POST /v1/messages[?beta=true]      Anthropic Messages API (SSE when stream:true, JSON otherwise)
//   POST /v1/messages/count_tokens     Anthropic token count
//   POST /v1/responses                 OpenAI Responses API (SSE when stream:true, JSON otherwise)
//   GET  /v1/models                    a one-model list (both API shapes in one answer)
//   GET  /_mock/requests               JSON array of the requests seen (see `record` below)
//   POST /_mock/reset                  forgets the requests and the overloaded-once counters and
//                                      restarts the ids (msg_mock000001, ...)
//   GET  /_mock/health                 {"ok":true}
// Anything else is answered 404 with an error body and recorded, so a test can spot a CLI
// calling something new.
//
// The scenario is chosen by a marker in the user's text: `[mock:NAME]` or `[mock:NAME:ARG]`.
//   ok (default)            one final text answer containing "mock review"
//   tool                    first a tool call (Claude: Bash `ls`; Codex: exec_command `ls`),
//                           then, once the tool result comes back, a final answer quoting it
//   overloaded              Anthropic 529 overloaded_error / OpenAI 503 server_overloaded
//   ratelimited             429 rate_limit_error / rate_limit_exceeded
//   overloaded-once:KEY[:N] overloaded for the first N sessions (CLI runs) carrying KEY, then
//                           ok; N defaults to --overload-count (default 1). A session is the
//                           CLI's session header (x-claude-code-session-id, session-id), so the
//                           CLI's own retries inside one run do not use up N.
//   unauthorized            401 authentication_error / invalid_api_key
//   slow:MS                 waits MS milliseconds before answering ok (timeouts, cancel)
//   stream-error            200, starts the stream, then an overloaded error event mid-stream

import http from 'node:http';
import zlib from 'node:zlib';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';

const options = parseArgs(process.argv.slice(2));
const requests = [];
const overloadSessions = new Map(); // KEY -> Set of session ids that were answered overloaded
const MAX_RECORDED = 2000;
let sequence = 0;

function parseArgs(argv) {
  const out = { port: 0, host: '127.0.0.1', overloadCount: 1, ignoreStdin: false, log: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--port') out.port = Number(value());
    else if (arg === '--host') out.host = value();
    else if (arg === '--overload-count') out.overloadCount = Number(value());
    else if (arg === '--ignore-stdin') out.ignoreStdin = true;
    else if (arg === '--log') out.log = value();
    else if (arg === '--help' || arg === '-h') usage(null);
    else usage(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) usage('--port must be 0..65535');
  if (!Number.isInteger(out.overloadCount) || out.overloadCount < 0) usage('--overload-count must be >= 0');
  return out;
}

function usage(problem) {
  const text =
    'usage: mock-model.mjs [--port N] [--host ADDR] [--overload-count N] [--ignore-stdin] [--log FILE]\n';
  if (problem) {
    process.stderr.write(`mock-model: ${problem}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

function logLine(text) {
  if (options.log) fs.appendFileSync(options.log, `${new Date().toISOString()} ${text}\n`);
}

// ---------------------------------------------------------------------------------------
// Request plumbing

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', reject);
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      const encoding = (req.headers['content-encoding'] || '').trim().toLowerCase();
      try {
        if (encoding === 'gzip') raw = zlib.gunzipSync(raw);
        else if (encoding === 'deflate') raw = zlib.inflateSync(raw);
        else if (encoding === 'br') raw = zlib.brotliDecompressSync(raw);
        else if (encoding === 'zstd') {
          if (typeof zlib.zstdDecompressSync !== 'function') {
            reject(new Error('zstd request bodies need Node >= 22.15'));
            return;
          }
          raw = zlib.zstdDecompressSync(raw);
        }
      } catch (err) {
        reject(err);
        return;
      }
      resolve(raw.toString('utf8'));
    });
  });
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function startSse(res, headers = {}) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
}

function sseEvent(res, name, data) {
  res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// Scenarios

const MARKER = /\[mock:([a-z-]+)(?::([^\]:]+))?(?::([^\]]+))?\]/;

function parseScenario(texts) {
  for (const text of texts) {
    const match = MARKER.exec(text);
    if (match) return { name: match[1], arg: match[2] ?? null, arg2: match[3] ?? null };
  }
  return { name: 'ok', arg: null, arg2: null };
}

// Decides how the scenario answers this request: 'ok', 'tool', 'overloaded', ... The
// overloaded-once bookkeeping lives here.
function effectiveScenario(scenario, session) {
  if (scenario.name !== 'overloaded-once') return scenario.name;
  const key = scenario.arg ?? '';
  const limit = scenario.arg2 != null ? Number(scenario.arg2) : options.overloadCount;
  let failed = overloadSessions.get(key);
  if (!failed) overloadSessions.set(key, (failed = new Set()));
  const id = session ?? `request-${sequence}`;
  if (failed.has(id)) return 'overloaded';
  if (failed.size < limit) {
    failed.add(id);
    return 'overloaded';
  }
  return 'ok';
}

function estimateTokens(text) {
  return Math.max(1, Math.ceil(text.length / 4));
}

function finalText(toolOutput) {
  if (toolOutput == null) {
    return (
      'This is a mock review from the corral test model. The change looks fine: ' +
      'no blocking issues found.'
    );
  }
  const excerpt = toolOutput.length > 400 ? `${toolOutput.slice(0, 400)}...` : toolOutput;
  return `This is a mock review after running a tool. The tool returned:\n${excerpt}`;
}

const TOOL_INTRO = 'I will list the files in the workspace first.';

// ---------------------------------------------------------------------------------------
// Anthropic Messages API

function anthropicTexts(body) {
  const texts = [];
  for (const message of body.messages ?? []) {
    if (message.role !== 'user') continue;
    if (typeof message.content === 'string') texts.push(message.content);
    else if (Array.isArray(message.content)) {
      for (const block of message.content) if (block?.type === 'text') texts.push(String(block.text ?? ''));
    }
  }
  return texts;
}

// The output of our own earlier tool call, when the last user turn carries its result.
function anthropicToolResult(body) {
  const messages = body.messages ?? [];
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return null;
  for (const block of last.content) {
    if (block?.type !== 'tool_result' || !String(block.tool_use_id ?? '').startsWith('toolu_mock')) continue;
    if (typeof block.content === 'string') return block.content;
    if (Array.isArray(block.content)) {
      return block.content.map((part) => (part?.type === 'text' ? part.text : '')).join('');
    }
    return '';
  }
  return null;
}

function anthropicToolCall(body) {
  const names = new Set((body.tools ?? []).map((tool) => tool?.name));
  if (names.has('Bash') || names.size === 0) {
    return { name: 'Bash', input: { command: 'ls', description: 'List files in the workspace' } };
  }
  if (names.has('Read')) {
    // The CLI's working directory, as its system prompt states it.
    const cwd = /Primary working directory: ([^\s\\"]+)/.exec(JSON.stringify(body))?.[1] ?? '/workspace';
    return { name: 'Read', input: { file_path: `${cwd}/README.md` } };
  }
  const first = [...names][0];
  return { name: first, input: {} };
}

const ANTHROPIC_ERRORS = {
  overloaded: [529, 'overloaded_error', 'Overloaded'],
  ratelimited: [429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (mock)'],
  unauthorized: [401, 'authentication_error', 'invalid x-api-key'],
};

function anthropicError(res, kind, requestId) {
  const [status, type, message] = ANTHROPIC_ERRORS[kind];
  const headers = { 'request-id': requestId, 'x-should-retry': status === 401 ? 'false' : 'true' };
  if (status === 429) headers['retry-after'] = '1';
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId }, headers);
}

async function handleAnthropic(req, res, body, record) {
  const requestId = `req_mock${String(record.seq).padStart(6, '0')}`;
  const id = `msg_mock${String(record.seq).padStart(6, '0')}`;
  const model = body.model ?? 'claude-mock';
  const toolOutput = anthropicToolResult(body);
  record.tool_result = toolOutput != null;
  const mode = record.effective;

  if (ANTHROPIC_ERRORS[mode]) return anthropicError(res, mode, requestId);
  if (mode === 'slow') await sleep(Number(record.scenario_arg ?? 5000));

  // Content blocks of the answer.
  const blocks = [];
  let stopReason = 'end_turn';
  if (mode === 'tool' && toolOutput == null) {
    const call = anthropicToolCall(body);
    blocks.push({ type: 'text', text: TOOL_INTRO });
    blocks.push({ type: 'tool_use', id: `toolu_mock${String(record.seq).padStart(6, '0')}`, name: call.name, input: call.input });
    stopReason = 'tool_use';
  } else {
    blocks.push({ type: 'text', text: finalText(toolOutput) });
  }

  const promptTokens = estimateTokens(JSON.stringify(body.messages ?? []));
  const systemTokens = estimateTokens(JSON.stringify(body.system ?? '') + JSON.stringify(body.tools ?? []));
  const firstTurn = !(body.messages ?? []).some((message) => message.role === 'assistant');
  const usage = {
    input_tokens: promptTokens,
    cache_creation_input_tokens: firstTurn ? systemTokens : 0,
    cache_read_input_tokens: firstTurn ? 0 : systemTokens,
    output_tokens: blocks.reduce((sum, b) => sum + estimateTokens(b.text ?? JSON.stringify(b.input)), 0),
    service_tier: 'standard',
  };
  record.usage = usage;

  const headers = { 'request-id': requestId, 'anthropic-organization-id': 'mock-org' };
  if (!body.stream) {
    sendJson(
      res,
      200,
      { id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: null, usage },
      headers,
    );
    return;
  }

  startSse(res, headers);
  sseEvent(res, 'message_start', {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  sseEvent(res, 'ping', { type: 'ping' });
  for (const [index, block] of blocks.entries()) {
    if (block.type === 'text') {
      sseEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of chunks(block.text, 24)) {
        sseEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else {
      sseEvent(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      sseEvent(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    if (mode === 'stream-error') {
      sseEvent(res, 'error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: requestId });
      res.end();
      return;
    }
    sseEvent(res, 'content_block_stop', { type: 'content_block_stop', index });
  }
  sseEvent(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  sseEvent(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

function chunks(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

// ---------------------------------------------------------------------------------------
// OpenAI Responses API

function openaiInputItems(body) {
  if (typeof body.input === 'string') return [{ type: 'message', role: 'user', content: body.input }];
  return Array.isArray(body.input) ? body.input : [];
}

function openaiTexts(body) {
  const texts = [];
  for (const item of openaiInputItems(body)) {
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

function openaiToolResult(body) {
  const items = openaiInputItems(body);
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item?.type === 'message' && item.role === 'user') break;
    if (
      (item?.type === 'function_call_output' || item?.type === 'custom_tool_call_output') &&
      String(item.call_id ?? '').startsWith('call_mock')
    ) {
      const output = item.output;
      if (typeof output === 'string') return output;
      if (Array.isArray(output)) return output.map((part) => part?.text ?? '').join('');
      if (output && typeof output === 'object') return String(output.content ?? JSON.stringify(output));
      return '';
    }
  }
  return null;
}

// All tools offered, flattened: top-level `tools` and the `additional_tools` input items
// Codex uses for namespaced tools (then a call names its namespace).
function openaiTools(body) {
  const found = [];
  const walk = (tools, namespace) => {
    for (const tool of tools ?? []) {
      if (tool?.type === 'namespace') walk(tool.tools, tool.name);
      else found.push({ ...tool, namespace });
    }
  };
  walk(body.tools, null);
  for (const item of openaiInputItems(body)) if (item?.type === 'additional_tools') walk(item.tools, null);
  return found;
}

// The shell call to make: exec_command (unified exec) or shell (older tool set) as a function
// call, else the code-mode `exec` custom tool running JavaScript that calls exec_command.
function openaiToolCall(body, callId) {
  const tools = openaiTools(body);
  const pick = (name, type) => tools.find((tool) => tool.name === name && (!type || tool.type === type));
  let tool = pick('exec_command', 'function');
  if (tool) return functionCall(tool, callId, { cmd: 'ls' });
  tool = pick('shell', 'function');
  if (tool) return functionCall(tool, callId, { command: ['bash', '-lc', 'ls'] });
  tool = pick('exec', 'custom');
  if (tool) {
    const input = 'const result = await tools.exec_command({ cmd: "ls" });\ntext(typeof result === "string" ? result : JSON.stringify(result));\n';
    const item = { type: 'custom_tool_call', status: 'completed', call_id: callId, name: tool.name, input };
    if (tool.namespace) item.namespace = tool.namespace;
    return item;
  }
  return functionCall({ name: 'exec_command', namespace: null }, callId, { cmd: 'ls' });
}

function functionCall(tool, callId, args) {
  const item = { type: 'function_call', status: 'completed', call_id: callId, name: tool.name, arguments: JSON.stringify(args) };
  if (tool.namespace) item.namespace = tool.namespace;
  return item;
}

const OPENAI_ERRORS = {
  overloaded: [503, 'server_error', 'server_overloaded', 'The server is overloaded (mock). Please retry later.'],
  ratelimited: [429, 'rate_limit_error', 'rate_limit_exceeded', 'Rate limit reached for requests (mock). Please try again in 1s.'],
  unauthorized: [401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided (mock).'],
};

function openaiError(res, kind, requestId) {
  const [status, type, code, message] = OPENAI_ERRORS[kind];
  const headers = { 'x-request-id': requestId };
  if (status === 429) headers['retry-after'] = '1';
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

async function handleOpenai(req, res, body, record) {
  const seq = String(record.seq).padStart(6, '0');
  const requestId = `req_mock${seq}`;
  const responseId = `resp_mock${seq}`;
  const model = body.model ?? 'gpt-mock';
  const toolOutput = openaiToolResult(body);
  record.tool_result = toolOutput != null;
  const mode = record.effective;

  if (OPENAI_ERRORS[mode]) return openaiError(res, mode, requestId);
  if (mode === 'slow') await sleep(Number(record.scenario_arg ?? 5000));

  const output = [];
  if (mode === 'tool' && toolOutput == null) {
    output.push(assistantMessage(`msg_mock${seq}a`, TOOL_INTRO, 'commentary'));
    output.push({ id: `fc_mock${seq}`, ...openaiToolCall(body, `call_mock${seq}`) });
  } else {
    output.push(assistantMessage(`msg_mock${seq}`, finalText(toolOutput), 'final_answer'));
  }

  const inputTokens = estimateTokens(JSON.stringify(body.input ?? '') + JSON.stringify(body.tools ?? []) + String(body.instructions ?? ''));
  const cached = Math.floor(inputTokens * 0.8);
  const outputTokens = output.reduce((sum, item) => sum + estimateTokens(item.content?.[0]?.text ?? item.arguments ?? item.input ?? ''), 0);
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: toolOutput != null ? cached : 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
  record.usage = usage;
  const created = Math.floor(Date.now() / 1000);
  const response = (status, items, withUsage) => ({
    id: responseId,
    object: 'response',
    created_at: created,
    status,
    model,
    output: items,
    parallel_tool_calls: false,
    tool_choice: 'auto',
    usage: withUsage ? usage : null,
  });

  const headers = { 'x-request-id': requestId, 'openai-model': model };
  if (!body.stream) {
    sendJson(res, 200, response('completed', output, true), headers);
    return;
  }

  startSse(res, headers);
  let n = 0;
  const emit = (type, fields) => sseEvent(res, type, { type, sequence_number: n++, ...fields });
  emit('response.created', { response: response('in_progress', [], false) });
  emit('response.in_progress', { response: response('in_progress', [], false) });
  for (const [index, item] of output.entries()) {
    if (item.type === 'message') {
      const text = item.content[0].text;
      emit('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', content: [] } });
      emit('response.content_part.added', { item_id: item.id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
      for (const piece of chunks(text, 24)) {
        emit('response.output_text.delta', { item_id: item.id, output_index: index, content_index: 0, delta: piece });
      }
      if (mode === 'stream-error') {
        emit('response.failed', {
          response: { ...response('failed', [], false), error: { code: 'server_is_overloaded', message: 'The server is overloaded (mock).' } },
        });
        res.end();
        return;
      }
      emit('response.output_text.done', { item_id: item.id, output_index: index, content_index: 0, text });
      emit('response.content_part.done', { item_id: item.id, output_index: index, content_index: 0, part: item.content[0] });
      emit('response.output_item.done', { output_index: index, item });
    } else if (item.type === 'function_call') {
      emit('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', arguments: '' } });
      emit('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: item.arguments });
      emit('response.function_call_arguments.done', { item_id: item.id, output_index: index, arguments: item.arguments });
      emit('response.output_item.done', { output_index: index, item });
    } else {
      emit('response.output_item.added', { output_index: index, item: { ...item, status: 'in_progress', input: '' } });
      emit('response.custom_tool_call_input.delta', { item_id: item.id, output_index: index, delta: item.input });
      emit('response.custom_tool_call_input.done', { item_id: item.id, output_index: index, input: item.input });
      emit('response.output_item.done', { output_index: index, item });
    }
  }
  emit('response.completed', { response: response('completed', output, true) });
  res.end();
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

// ---------------------------------------------------------------------------------------
// Routing and the request record

function authOf(headers) {
  const authorization = headers.authorization ?? null;
  const apiKey = headers['x-api-key'] ?? null;
  let key = apiKey;
  if (key == null && authorization && /^bearer /i.test(authorization)) key = authorization.slice(7);
  return { authorization, x_api_key: apiKey, api_key: key };
}

function sessionOf(headers) {
  return headers['x-claude-code-session-id'] ?? headers['session-id'] ?? headers['thread-id'] ?? null;
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://mock');
  const path = url.pathname;

  if (path === '/_mock/requests' && req.method === 'GET') return sendJson(res, 200, requests);
  if (path === '/_mock/reset' && req.method === 'POST') {
    requests.length = 0;
    overloadSessions.clear();
    sequence = 0;
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/_mock/health') return sendJson(res, 200, { ok: true });

  const seq = ++sequence;
  const record = {
    seq,
    time: new Date().toISOString(),
    method: req.method,
    path,
    query: url.search.slice(1),
    api: 'other',
    scenario: null,
    scenario_arg: null,
    effective: null,
    status: null,
    model: null,
    stream: null,
    session: sessionOf(req.headers),
    prompt: null,
    tool_result: null,
    usage: null,
    ...authOf(req.headers),
    user_agent: req.headers['user-agent'] ?? null,
    headers: req.headers,
  };
  requests.push(record);
  if (requests.length > MAX_RECORDED) requests.shift();
  res.on('finish', () => {
    record.status = res.statusCode;
    logLine(`${req.method} ${req.url} -> ${res.statusCode} ${record.effective ?? ''}`);
  });

  let raw;
  try {
    raw = await readBody(req);
  } catch (err) {
    return sendJson(res, 415, { error: { type: 'invalid_request_error', message: `mock: cannot read body: ${err.message}` } });
  }

  const isAnthropic = req.method === 'POST' && path === '/v1/messages';
  const isOpenai = req.method === 'POST' && (path === '/v1/responses' || path === '/responses');
  if (isAnthropic || isOpenai) {
    let body;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      return sendJson(res, 400, { error: { type: 'invalid_request_error', message: 'mock: body is not JSON' } });
    }
    const texts = isAnthropic ? anthropicTexts(body) : openaiTexts(body);
    const scenario = parseScenario(texts);
    record.api = isAnthropic ? 'anthropic' : 'openai';
    record.scenario = scenario.name;
    record.scenario_arg = scenario.arg;
    record.effective = effectiveScenario(scenario, record.session);
    record.model = body.model ?? null;
    record.stream = Boolean(body.stream);
    const prompt = texts.find((text) => MARKER.test(text)) ?? texts[texts.length - 1] ?? null;
    record.prompt = prompt && prompt.length > 2000 ? prompt.slice(0, 2000) : prompt;
    return isAnthropic ? handleAnthropic(req, res, body, record) : handleOpenai(req, res, body, record);
  }

  // Claude Code's connectivity check (skipped with CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1).
  if ((req.method === 'HEAD' || req.method === 'GET') && path === '/api/hello') {
    record.api = 'anthropic';
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end(req.method === 'HEAD' ? undefined : 'hello');
  }
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    record.api = 'anthropic';
    return sendJson(res, 200, { input_tokens: estimateTokens(raw) });
  }
  if (req.method === 'GET' && path === '/v1/models') {
    // Anthropic fields (data[].id, type, display_name) and OpenAI fields (object) together.
    return sendJson(res, 200, {
      object: 'list',
      data: [{ id: 'mock-model', type: 'model', object: 'model', display_name: 'Mock model', created: 0, created_at: '2025-01-01T00:00:00Z', owned_by: 'corral-mock' }],
      has_more: false,
      first_id: 'mock-model',
      last_id: 'mock-model',
    });
  }
  return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `mock: no route for ${req.method} ${path}` } });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`mock-model: ${err.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: `mock: ${err.message}` } });
    else res.end();
  });
});
server.keepAliveTimeout = 5000;

server.on('error', (err) => {
  process.stderr.write(`mock-model: ${err.message}\n`);
  process.exit(1);
});

server.listen(options.port, options.host, () => {
  process.stdout.write(`PORT=${server.address().port}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Watch stdin only when it is something that can close: a pipe from a harness, a socket, or
// a terminal (Ctrl-D). A background job's /dev/null would otherwise stop the server at once.
function stdinCanClose() {
  try {
    const stat = fs.fstatSync(0);
    return stat.isFIFO() || stat.isSocket() || process.stdin.isTTY === true;
  } catch {
    return false;
  }
}
if (!options.ignoreStdin && stdinCanClose()) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

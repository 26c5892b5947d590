// The Anthropic Messages API as Claude Code uses it: POST /v1/messages, an SSE stream
// (message_start, content_block_start/delta/stop, message_delta, message_stop) when the
// request says stream:true, else one JSON message.

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

// The user's text blocks, where the scenario marker is looked for. Tool results are not
// searched: a file name in `ls` output must not pick a scenario.
export function anthropicTexts(body) {
  const texts = [];
  for (const message of body.messages ?? []) {
    if (message.role !== 'user') continue;
    if (typeof message.content === 'string') texts.push(message.content);
    else if (Array.isArray(message.content)) {
      for (const block of message.content) {
        if (block?.type === 'text') texts.push(String(block.text ?? ''));
      }
    }
  }
  return texts;
}

// The output of the mock's own earlier tool call, when the last user turn carries it.
function toolResult(body) {
  const messages = body.messages ?? [];
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return null;
  for (const block of last.content) {
    if (block?.type !== 'tool_result') continue;
    if (!String(block.tool_use_id ?? '').startsWith('toolu_mock')) continue;
    if (typeof block.content === 'string') return block.content;
    if (Array.isArray(block.content)) {
      return block.content.map((part) => (part?.type === 'text' ? part.text : '')).join('');
    }
    return '';
  }
  return null;
}

// `[mock:tool:findings]`: the Bash call writes a review's .corral/result.json, as a review
// agent does (the runner merges it into the job's result beside result.agent).
const FINDINGS_COMMAND =
  'mkdir -p .corral && printf \'%s\' \'{"summary":"mock","findings":[{"file":"README.md","line":1,"severity":"low","message":"mock finding"}]}\' > .corral/result.json';

// `[mock:tool:push]`: the Bash call commits a fix on the branch corral/mock-push and pushes
// it to origin, as a resolve agent does; it prints the end of git's answer, push-exit=CODE,
// and whether the token found its way into .git/config (it must not).
const PUSH_COMMAND =
  'git checkout -q -b corral/mock-push && echo fixed > FIX.md && git add FIX.md && ' +
  'git -c user.email=agent@corral.test -c user.name=agent commit -q -m "Fix the issue" && ' +
  '{ out=$(git push origin corral/mock-push 2>&1); code=$?; echo "$out" | tail -n 2; ' +
  'echo "push-exit=$code"; if [ -n "$GITHUB_TOKEN" ] && grep -qF "$GITHUB_TOKEN" .git/config; ' +
  'then echo token-in-git-config; else echo git-config-clean; fi; }';

// Bash `ls` when offered; else Read of README.md in the CLI's working directory.
function toolCall(body, arg) {
  const names = new Set((body.tools ?? []).map((tool) => tool?.name));
  if (arg === 'findings') {
    return { name: 'Bash', input: { command: FINDINGS_COMMAND, description: 'Write the findings' } };
  }
  if (arg === 'push') {
    return { name: 'Bash', input: { command: PUSH_COMMAND, description: 'Commit and push the fix' } };
  }
  if (names.has('Bash') || names.size === 0) {
    return { name: 'Bash', input: { command: 'ls', description: 'List files in the workspace' } };
  }
  if (names.has('Read')) {
    // The working directory, as Claude Code's system prompt states it.
    const stated = /Primary working directory: ([^\s\\"]+)/.exec(JSON.stringify(body));
    return { name: 'Read', input: { file_path: `${stated?.[1] ?? '/workspace'}/README.md` } };
  }
  return { name: [...names][0], input: {} };
}

const ERRORS = {
  overloaded: [529, 'overloaded_error', 'Overloaded'],
  ratelimited: [
    429,
    'rate_limit_error',
    'Number of request tokens has exceeded your per-minute rate limit (mock)',
  ],
  unauthorized: [401, 'authentication_error', 'invalid x-api-key'],
};

function sendError(res, kind, requestId) {
  const [status, type, message] = ERRORS[kind];
  const headers = { 'request-id': requestId, 'x-should-retry': status === 401 ? 'false' : 'true' };
  if (status === 429) headers['retry-after'] = '1';
  const body = { type: 'error', error: { type, message }, request_id: requestId };
  sendJson(res, status, body, headers);
}

// Answers one request; `record` (see mock-model.mjs) says which scenario applies and gets
// the usage and whether a tool result came back.
export async function handleAnthropic(res, body, record) {
  const requestId = mockId('req_mock', record.seq);
  const output = toolResult(body);
  record.tool_result = output != null;
  const mode = record.effective;

  if (ERRORS[mode]) return sendError(res, mode, requestId);
  if (mode === 'slow') await sleep(Number(record.scenario_arg ?? 5000));

  const blocks = [];
  let stopReason = 'end_turn';
  if (mode === 'tool' && output == null) {
    const call = toolCall(body, record.scenario_arg);
    blocks.push({ type: 'text', text: TOOL_INTRO });
    blocks.push({ type: 'tool_use', id: mockId('toolu_mock', record.seq), ...call });
    stopReason = 'tool_use';
  } else {
    blocks.push({ type: 'text', text: finalText(output) });
  }

  // The system prompt and tools count as written to the prompt cache on a first turn and
  // read from it afterwards, as with Claude Code's cache_control breakpoints.
  const messages = body.messages ?? [];
  const fixedTokens = estimateTokens(JSON.stringify(body.system ?? '') + JSON.stringify(body.tools ?? []));
  const firstTurn = !messages.some((message) => message.role === 'assistant');
  const usage = {
    input_tokens: estimateTokens(JSON.stringify(messages)),
    cache_creation_input_tokens: firstTurn ? fixedTokens : 0,
    cache_read_input_tokens: firstTurn ? 0 : fixedTokens,
    output_tokens: blocks.reduce(
      (sum, block) => sum + estimateTokens(block.text ?? JSON.stringify(block.input)),
      0,
    ),
    service_tier: 'standard',
  };
  record.usage = usage;

  const message = {
    id: mockId('msg_mock', record.seq),
    type: 'message',
    role: 'assistant',
    model: body.model ?? 'claude-mock',
    content: blocks,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
  const headers = { 'request-id': requestId, 'anthropic-organization-id': 'mock-org' };
  if (!body.stream) return sendJson(res, 200, message, headers);

  startSse(res, headers);
  sseEvent(res, 'message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...usage, output_tokens: 1 },
    },
  });
  sseEvent(res, 'ping', { type: 'ping' });
  for (const [index, block] of blocks.entries()) {
    streamBlock(res, index, block);
    if (mode === 'stream-error') {
      sseEvent(res, 'error', {
        type: 'error',
        error: { type: 'overloaded_error', message: 'Overloaded' },
        request_id: requestId,
      });
      return res.end();
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

// content_block_start and its deltas (the stop is the caller's, so an error can cut in).
function streamBlock(res, index, block) {
  const start = (contentBlock) =>
    sseEvent(res, 'content_block_start', {
      type: 'content_block_start',
      index,
      content_block: contentBlock,
    });
  const delta = (payload) =>
    sseEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: payload });

  if (block.type === 'text') {
    start({ type: 'text', text: '' });
    for (const piece of chunks(block.text)) delta({ type: 'text_delta', text: piece });
  } else {
    start({ type: 'tool_use', id: block.id, name: block.name, input: {} });
    delta({ type: 'input_json_delta', partial_json: JSON.stringify(block.input) });
  }
}

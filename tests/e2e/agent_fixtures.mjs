// Event streams as the agent CLIs print them (Claude Code's `-p --output-format stream-json
// --verbose`, `codex exec --json`), and the result.agent the runner derives from each: used by
// agent_events.test.mjs (the parser) and agent.test.mjs (the job page), which plays the
// runner itself so no CLI is needed here (tests/integration/agent_test.cpp runs the real ones).

const ndjson = (events) => events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n';

export const XSS_TEXT = 'Note: the diff adds <img src=x onerror=alert(1)> to a comment.';
// A tool result longer than the page shows (20,000 characters).
export const LONG_OUTPUT = Array.from({length: 6000}, (_, i) => `line ${i + 1}`).join('\n');

const SESSION = '6f1c2a9e-0d7b-4c55-9a61-2f1e3c4d5b6a';
const MODEL = 'claude-sonnet-4-5-20250929';

export const claudeEvents = ndjson([
  {type: 'system', subtype: 'init', cwd: '/workspace', session_id: SESSION, tools: ['Bash', 'Read', 'Edit', 'Grep'],
    mcp_servers: [], model: MODEL, permissionMode: 'default', apiKeySource: 'ANTHROPIC_API_KEY',
    claude_code_version: '2.1.332', uuid: 'a1'},
  {type: 'assistant', message: {id: 'msg_01', type: 'message', role: 'assistant', model: MODEL, content: [
    {type: 'text', text: 'I will look at the change first.'},
    {type: 'tool_use', id: 'toolu_01', name: 'Bash', input: {command: 'git diff --stat HEAD~1',
      description: 'Show what the change touches'}}],
  stop_reason: null, usage: {input_tokens: 400, output_tokens: 60}}, parent_tool_use_id: null, session_id: SESSION},
  {type: 'user', message: {role: 'user', content: [{tool_use_id: 'toolu_01', type: 'tool_result',
    content: ' src/app.c | 3 ++-\n 1 file changed, 2 insertions(+), 1 deletion(-)\n', is_error: false}]},
  parent_tool_use_id: null, session_id: SESSION},
  // A stream event of a kind the page does not know, and a line that is not JSON: skipped.
  {type: 'stream_event', event: {type: 'message_delta'}, session_id: SESSION},
  'not json at all',
  {type: 'assistant', message: {id: 'msg_02', role: 'assistant', model: MODEL, content: [
    {type: 'tool_use', id: 'toolu_02', name: 'Read', input: {file_path: '/workspace/src/missing.c'}}]},
  session_id: SESSION},
  {type: 'user', message: {role: 'user', content: [{tool_use_id: 'toolu_02', type: 'tool_result',
    content: [{type: 'text', text: 'File does not exist.'}], is_error: true}]}, session_id: SESSION},
  {type: 'assistant', message: {id: 'msg_03', role: 'assistant', model: MODEL, content: [
    {type: 'tool_use', id: 'toolu_03', name: 'Bash', input: {command: 'make test'}}]}, session_id: SESSION},
  {type: 'user', message: {role: 'user', content: [{tool_use_id: 'toolu_03', type: 'tool_result',
    content: LONG_OUTPUT, is_error: false}]}, session_id: SESSION},
  {type: 'assistant', message: {id: 'msg_04', role: 'assistant', model: MODEL, content: [{type: 'text', text: XSS_TEXT}]},
    session_id: SESSION},
  {type: 'assistant', message: {id: 'msg_05', role: 'assistant', model: MODEL, content: [
    {type: 'text', text: 'Review done: one finding in src/app.c.'}]}, session_id: SESSION},
  {type: 'result', subtype: 'success', is_error: false, duration_ms: 12345, duration_api_ms: 11000, num_turns: 4,
    result: 'Review done: one finding in src/app.c.', session_id: SESSION, total_cost_usd: 0.0123,
    usage: {input_tokens: 1200, cache_creation_input_tokens: 0, cache_read_input_tokens: 9000, output_tokens: 345}},
]);

export const claudeResult = {
  agent: {cli: 'claude', model: MODEL, final_text: 'Review done: one finding in src/app.c.', cost_usd: 0.0123,
    input_tokens: 1200, output_tokens: 345, cache_read_tokens: 9000, num_turns: 4, duration_ms: 12345, session_id: SESSION},
  findings: [{path: 'src/app.c', line: 3, severity: 'warning', message: 'the return value of write() is not checked'}],
};

// The readable log the runner writes from these events (runner/agent_cli.cpp).
export const claudeLog = [
  `agent: Claude Code 2.1.332, model ${MODEL}`,
  'I will look at the change first.',
  '> Bash: git diff --stat HEAD~1',
  '> Read: /workspace/src/missing.c',
  '  tool error: File does not exist.',
  '> Bash: make test',
  XSS_TEXT,
  'Review done: one finding in src/app.c.',
  'agent: finished after 12.3 s, 4 turns, $0.0123, 10200 input / 345 output tokens',
  '',
].join('\n');

const THREAD = '0199a213-81c0-7800-8aa1-bbab2a035a53';

export const codexEvents = ndjson([
  {type: 'thread.started', thread_id: THREAD},
  {type: 'turn.started'},
  {type: 'item.completed', item: {id: 'item_0', type: 'reasoning', text: '**Looking at the repository layout**'}},
  {type: 'item.started', item: {id: 'item_1', type: 'command_execution', command: 'bash -lc ls',
    aggregated_output: '', exit_code: null, status: 'in_progress'}},
  {type: 'item.completed', item: {id: 'item_1', type: 'command_execution', command: 'bash -lc ls',
    aggregated_output: 'README.md\nsrc\n', exit_code: 0, status: 'completed'}},
  {type: 'item.started', item: {id: 'item_2', type: 'command_execution', command: "bash -lc 'make test'",
    aggregated_output: '', exit_code: null, status: 'in_progress'}},
  {type: 'item.completed', item: {id: 'item_2', type: 'command_execution', command: "bash -lc 'make test'",
    aggregated_output: 'src/app.c:3: error: unchecked write\nmake: *** [test] Error 2\n', exit_code: 2, status: 'failed'}},
  {type: 'item.started', item: {id: 'item_3', type: 'todo_list', items: [{text: 'fix it', completed: false}]}},
  {type: 'item.completed', item: {id: 'item_4', type: 'file_change', changes: [{path: 'src/app.c', kind: 'update'}],
    status: 'completed'}},
  {type: 'item.completed', item: {id: 'item_5', type: 'agent_message', text: 'Fixed the unchecked write in src/app.c.'}},
  {type: 'turn.completed', usage: {input_tokens: 5000, cached_input_tokens: 3000, output_tokens: 700}},
]);

export const codexResult = {
  agent: {cli: 'codex', model: 'gpt-5-codex', final_text: 'Fixed the unchecked write in src/app.c.', cost_usd: null,
    input_tokens: 2000, output_tokens: 700, cache_read_tokens: 3000, num_turns: 1, duration_ms: 5400, session_id: THREAD},
};

export const codexLog = [
  'agent: Codex',
  '> shell: bash -lc ls',
  "> shell: bash -lc 'make test'",
  '  tool error: exit 2',
  '> edit: src/app.c',
  'Fixed the unchecked write in src/app.c.',
  '',
].join('\n');

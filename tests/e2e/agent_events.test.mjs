// The transcript reader (web/assets/agent_events.js) is DOM-free: tested here directly with
// the event streams of agent_fixtures.mjs and a few odd ones.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {buildTranscript, summarizeToolCall} from '../../web/assets/agent_events.js';
import {LONG_OUTPUT, XSS_TEXT, claudeEvents, codexEvents} from './agent_fixtures.mjs';

const kinds = (entries) => entries.map((e) => (e.kind === 'tool' ? `tool:${e.summary}` : e.kind));

test('Claude Code: text, tool calls with their results, errors, the end', () => {
  const {entries, events} = buildTranscript(claudeEvents);
  assert.equal(events, 11, 'every JSON line is an event; the line that is not JSON is not');
  assert.deepEqual(kinds(entries), ['start', 'text', 'tool:Bash: git diff --stat HEAD~1', 'tool:Read: /workspace/src/missing.c',
    'tool:Bash: make test', 'text', 'text', 'end']);
  assert.deepEqual(entries[0], {kind: 'start', cli: 'Claude Code', version: '2.1.332', model: 'claude-sonnet-4-5-20250929',
    session: '6f1c2a9e-0d7b-4c55-9a61-2f1e3c4d5b6a'});
  const [, , diff, read, make, xss, last, end] = entries;
  assert.deepEqual(diff.input, {command: 'git diff --stat HEAD~1', description: 'Show what the change touches'});
  assert.match(diff.output, /1 file changed/);
  assert.equal(diff.isError, false);
  assert.equal(diff.pending, false);
  assert.equal(read.output, 'File does not exist.');
  assert.equal(read.isError, true);
  assert.equal(make.output, LONG_OUTPUT);
  assert.equal(xss.text, XSS_TEXT);
  // The result's text repeats the last message: not shown twice.
  assert.equal(last.text, 'Review done: one finding in src/app.c.');
  assert.deepEqual(end, {kind: 'end', isError: false, turns: 4, durationMs: 12345, costUsd: 0.0123,
    usage: {input: 1200, output: 345, cacheRead: 9000}});
});

test('Codex: reasoning, commands with exit codes, file changes, the message, usage', () => {
  const {entries} = buildTranscript(codexEvents);
  assert.deepEqual(kinds(entries), ['start', 'reasoning', 'tool:shell: bash -lc ls', "tool:shell: bash -lc 'make test'",
    'tool:edit: src/app.c', 'text', 'end']);
  const [start, , ls, make, edit, text, end] = entries;
  assert.equal(start.cli, 'Codex');
  assert.equal(start.session, '0199a213-81c0-7800-8aa1-bbab2a035a53');
  assert.equal(ls.output, 'README.md\nsrc\n');
  assert.equal(ls.isError, false);
  assert.equal(ls.exitCode, 0);
  assert.equal(make.isError, true);
  assert.equal(make.exitCode, 2);
  assert.equal(edit.output, 'update src/app.c');
  assert.equal(text.text, 'Fixed the unchecked write in src/app.c.');
  assert.deepEqual(end, {kind: 'end', isError: false, turns: 1, durationMs: null, costUsd: null,
    usage: {input: 2000, output: 700, cacheRead: 3000}});
});

test('failures: a Claude error result, a Codex failed turn and error events', () => {
  const claude = buildTranscript([
    JSON.stringify({type: 'assistant', message: {content: [{type: 'text', text: 'Invalid API key'}]}, error: 'authentication_failed'}),
    JSON.stringify({type: 'result', subtype: 'error_max_turns', is_error: true, num_turns: 3, errors: ['max turns reached']}),
  ].join('\n'));
  assert.deepEqual(kinds(claude.entries), ['text', 'error', 'error', 'end']);
  assert.equal(claude.entries[1].text, 'authentication_failed');
  assert.equal(claude.entries[2].text, 'error_max_turns; max turns reached');
  assert.equal(claude.entries[3].isError, true);

  const codex = buildTranscript([
    {type: 'thread.started', thread_id: 't'},
    {type: 'error', message: 'Reconnecting... 1/5'},
    {type: 'turn.failed', error: {message: 'stream disconnected before completion'}},
  ].map((e) => JSON.stringify(e)).join('\n'));
  assert.deepEqual(kinds(codex.entries), ['start', 'error', 'error', 'end']);
  assert.equal(codex.entries[2].text, 'stream disconnected before completion');
  assert.equal(codex.entries[3].isError, true);
});

test('odd input: nothing, junk, unknown events, a tool call without its result', () => {
  assert.deepEqual(buildTranscript(''), {entries: [], events: 0});
  assert.deepEqual(buildTranscript('\n\n[1,2]\n"x"\n{"type":"future.thing","x":1}\n{broken'), {entries: [], events: 1});
  const {entries} = buildTranscript(JSON.stringify({type: 'assistant',
    message: {content: [{type: 'tool_use', id: 't1', name: 'Write', input: {file_path: '/a', content: 'x'}}]}}));
  assert.equal(entries[0].pending, true);
  assert.equal(entries[0].output, null);
});

test('tool call summaries read like the runner\'s log lines', () => {
  assert.equal(summarizeToolCall('Bash', {command: 'ls\n-la'}), 'Bash: ls -la');
  assert.equal(summarizeToolCall('Grep', {pattern: 'TODO', path: 'src'}), 'Grep: src');
  assert.equal(summarizeToolCall('TodoWrite', {todos: []}), 'TodoWrite: {"todos":[]}');
  assert.equal(summarizeToolCall('Noop', {}), 'Noop');
  assert.equal(summarizeToolCall('Bash', {command: 'x'.repeat(500)}).length, 160);
});

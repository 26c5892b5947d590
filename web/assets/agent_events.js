// An agent CLI's raw event stream, as GET /api/v1/jobs/{id}/events answers it (one JSON
// event per line, exactly as Claude Code's `--output-format stream-json` or `codex exec
// --json` printed it), read into the entries of a transcript. DOM-free, so
// tests/e2e/agent_events.test.mjs tests it directly; web/assets/agent_view.js draws it.
//
// Entries, in the order they happened:
//   {kind: 'start', cli, version, model, session}   the CLI's first event
//   {kind: 'text', text}                             what the agent said
//   {kind: 'reasoning', text}                        its thinking, when the CLI shows it
//   {kind: 'tool', id, name, input, summary, output, isError, pending, exitCode}
//   {kind: 'error', text}
//   {kind: 'end', isError, turns, durationMs, costUsd, usage}
//
// Lines that are not JSON objects and events of unknown types are skipped: a newer CLI may
// print more than this knows.

// The field that says what a call does, for the tools both CLIs have: the same choice and
// wording as the runner's log ("> Bash: ls", runner/agent_cli.cpp summarize_tool_call).
const SUMMARY_KEYS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description'];
const SUMMARY_MAX = 160;

export function summarizeToolCall(name, input) {
  let detail = '';
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const key = SUMMARY_KEYS.find((k) => typeof input[k] === 'string');
    if (key) detail = input[key];
    else if (Object.keys(input).length > 0) detail = JSON.stringify(input);
  } else if (input !== null && input !== undefined) {
    detail = JSON.stringify(input);
  }
  const line = `${name}${detail ? `: ${detail.replace(/\n/g, ' ')}` : ''}`;
  return line.length > SUMMARY_MAX ? `${line.slice(0, SUMMARY_MAX - 1)}…` : line;
}

// A tool result's content: a string, or a list of blocks ({type: 'text', text}, images, ...).
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((block) => {
      if (typeof block === 'string') return block;
      if (block?.type === 'text' && typeof block.text === 'string') return block.text;
      return `[${block?.type ?? 'block'}]`;
    }).join('\n');
  }
  if (content === null || content === undefined) return '';
  return JSON.stringify(content, null, 2);
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v) => (typeof v === 'string' ? v : '');
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function parseEventLines(text) {
  const events = [];
  for (const line of String(text ?? '').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const event = JSON.parse(trimmed);
      if (isObject(event)) events.push(event);
    } catch {
      // a line cut short or not JSON: skipped
    }
  }
  return events;
}

class TranscriptBuilder {
  constructor() {
    this.entries = [];
    this.tools = new Map();  // tool_use id (Claude) or item id (Codex) -> its entry
    this.codex = null;       // {turns, usage, failed} once a Codex turn ended
  }

  push(entry) {
    this.entries.push(entry);
    return entry;
  }

  tool(id, name, input) {
    const known = id ? this.tools.get(id) : undefined;
    if (known) return known;
    const entry = this.push({kind: 'tool', id: id || null, name, input, summary: summarizeToolCall(name, input),
      output: null, isError: false, pending: true, exitCode: null});
    if (id) this.tools.set(id, entry);
    return entry;
  }

  lastText() {
    for (let i = this.entries.length - 1; i >= 0; i -= 1) {
      if (this.entries[i].kind === 'text') return this.entries[i].text;
    }
    return null;
  }

  // ---- Claude Code (stream-json)

  claudeInit(event) {
    this.push({kind: 'start', cli: 'Claude Code', version: str(event.claude_code_version), model: str(event.model),
      session: str(event.session_id)});
  }

  claudeAssistant(message) {
    if (!isObject(message)) return;
    if (typeof message.content === 'string') {
      if (message.content) this.push({kind: 'text', text: message.content});
      return;
    }
    for (const block of Array.isArray(message.content) ? message.content : []) {
      if (!isObject(block)) continue;
      if (block.type === 'text' && str(block.text)) this.push({kind: 'text', text: block.text});
      else if (block.type === 'thinking' && str(block.thinking)) this.push({kind: 'reasoning', text: block.thinking});
      else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
        this.tool(str(block.id), str(block.name) || 'tool', block.input ?? {});
      }
    }
  }

  claudeUser(message) {
    if (!isObject(message) || !Array.isArray(message.content)) return;
    for (const block of message.content) {
      if (!isObject(block) || block.type !== 'tool_result') continue;
      const entry = this.tool(str(block.tool_use_id), 'tool', null);
      entry.output = contentText(block.content);
      entry.isError = block.is_error === true;
      entry.pending = false;
    }
  }

  claudeResult(event) {
    const isError = event.is_error === true || (event.subtype !== undefined && event.subtype !== 'success');
    const text = str(event.result);
    if (isError) {
      const errors = Array.isArray(event.errors) ? event.errors.filter((e) => typeof e === 'string') : [];
      const message = [text || str(event.subtype), ...errors].filter(Boolean).join('; ');
      this.push({kind: 'error', text: message || 'the agent failed'});
    } else if (text && text !== this.lastText()) {
      this.push({kind: 'text', text});
    }
    const usage = isObject(event.usage) ? event.usage : {};
    this.push({kind: 'end', isError, turns: num(event.num_turns), durationMs: num(event.duration_ms),
      costUsd: num(event.total_cost_usd), usage: {
        input: (num(usage.input_tokens) ?? 0) + (num(usage.cache_creation_input_tokens) ?? 0),
        output: num(usage.output_tokens), cacheRead: num(usage.cache_read_input_tokens)}});
  }

  // ---- Codex (exec --json)

  codexItem(item, completed) {
    if (!isObject(item)) return;
    const type = str(item.type) || str(item.item_type);
    const id = str(item.id);
    if (type === 'agent_message' || type === 'assistant_message') {
      if (completed && str(item.text)) this.push({kind: 'text', text: item.text});
    } else if (type === 'reasoning') {
      if (completed && str(item.text)) this.push({kind: 'reasoning', text: item.text});
    } else if (type === 'command_execution') {
      const entry = this.tool(id, 'shell', {command: item.command ?? ''});
      if (typeof item.aggregated_output === 'string') entry.output = item.aggregated_output;
      const exitCode = num(item.exit_code);
      if (exitCode !== null) entry.exitCode = exitCode;
      if (completed || (item.status && item.status !== 'in_progress')) {
        entry.pending = false;
        entry.isError = item.status === 'failed' || (exitCode !== null && exitCode !== 0);
      }
    } else if (type === 'file_change') {
      const changes = Array.isArray(item.changes) ? item.changes.filter(isObject) : [];
      const entry = this.tool(id, 'edit', {changes});
      entry.summary = summarizeToolCall('edit', {path: changes.map((c) => str(c.path)).join(', ')});
      entry.output = changes.map((c) => `${str(c.kind) || 'change'} ${str(c.path)}`).join('\n');
      if (completed) {
        entry.pending = false;
        entry.isError = item.status === 'failed';
      }
    } else if (type === 'mcp_tool_call') {
      const entry = this.tool(id, `${str(item.server)}.${str(item.tool)}`, item.arguments ?? {});
      if (completed) {
        entry.pending = false;
        entry.isError = item.status === 'failed' || Boolean(item.error);
        const error = isObject(item.error) ? str(item.error.message) : str(item.error);
        entry.output = error || (item.result === undefined ? '' : contentText(item.result?.content ?? item.result));
      }
    } else if (type === 'web_search') {
      const entry = this.tool(id, 'web search', {query: str(item.query)});
      if (completed) entry.pending = false;
    } else if (type === 'error') {
      if (completed && str(item.message)) this.push({kind: 'error', text: item.message});
    }
    // todo_list and types newer than this: not part of the transcript
  }

  codexTurnEnded(usage, failed) {
    this.codex ??= {turns: 0, usage: {input: 0, output: 0, cacheRead: 0}, failed: false};
    this.codex.turns += 1;
    this.codex.failed = failed;
    if (isObject(usage)) {
      const cached = num(usage.cached_input_tokens) ?? 0;
      this.codex.usage.input += (num(usage.input_tokens) ?? 0) - cached;
      this.codex.usage.cacheRead += cached;
      this.codex.usage.output += num(usage.output_tokens) ?? 0;
    }
  }

  add(event) {
    const type = event.type;
    if (type === 'system') {
      if (event.subtype === 'init') this.claudeInit(event);
    } else if (type === 'assistant') {
      this.claudeAssistant(event.message);
      // Set when the API call behind this message failed (e.g. authentication_failed).
      if (str(event.error)) this.push({kind: 'error', text: event.error});
    } else if (type === 'user') {
      this.claudeUser(event.message);
    } else if (type === 'result') {
      this.claudeResult(event);
    } else if (type === 'thread.started') {
      this.push({kind: 'start', cli: 'Codex', version: '', model: str(event.model), session: str(event.thread_id)});
    } else if (type === 'item.started' || type === 'item.updated' || type === 'item.completed') {
      this.codexItem(event.item, type === 'item.completed');
    } else if (type === 'turn.completed') {
      this.codexTurnEnded(event.usage, false);
    } else if (type === 'turn.failed') {
      this.push({kind: 'error', text: str(event.error?.message) || 'the turn failed'});
      this.codexTurnEnded(null, true);
    } else if (type === 'error') {
      if (str(event.message)) this.push({kind: 'error', text: event.message});
    }
  }

  finish() {
    if (this.codex) {
      this.push({kind: 'end', isError: this.codex.failed, turns: this.codex.turns, durationMs: null, costUsd: null,
        usage: this.codex.usage});
    }
    return this.entries;
  }
}

// The transcript of an NDJSON event stream: {entries, events: how many events were read}.
export function buildTranscript(text) {
  const events = parseEventLines(text);
  const builder = new TranscriptBuilder();
  for (const event of events) builder.add(event);
  return {entries: builder.finish(), events: events.length};
}

#!/usr/bin/env node
// A local stand-in for the model services the agent CLIs talk to, so corral's agent-job
// tests run the real `claude` and `codex` binaries without calling a real model. No
// packages needed; tests/agent/README.md has the details and the CLIs' settings.
//
//   node tests/agent/mock-model.mjs [--port N] [--host 127.0.0.1] [--overload-count N]
//                                   [--ignore-stdin] [--log FILE]
//
// Prints exactly one line, `PORT=<n>`, on stdout once listening (port 0, the default, picks
// a free one). Exits on SIGTERM/SIGINT, and when stdin (a pipe, socket or terminal) closes,
// so a test harness holding a pipe to it cannot leak the server; --ignore-stdin turns that
// off. Stdin from /dev/null (a shell's background job) is not watched.
//
// Routes:
//   POST /v1/messages[?beta=true]   Anthropic Messages API (mock/anthropic.mjs)
//   POST /v1/messages/count_tokens  Anthropic token count
//   POST /v1/responses              OpenAI Responses API (mock/openai.mjs); also /responses
//   GET  /v1/models                 a one-model list (both APIs' fields in one answer)
//   HEAD /api/hello                 200: Claude Code's connectivity check
//   GET  /_mock/requests            JSON array of the requests seen (`record` below)
//   POST /_mock/reset               forgets requests and overloaded-once counters, ids restart
//   GET  /_mock/health              {"ok":true}
// Anything else is answered 404 and recorded, so a test can spot a CLI calling something new.
//
// The scenario is chosen by a marker in the user's text, `[mock:NAME]` or `[mock:NAME:ARG]`:
//   ok (default)             a final text answer containing "mock review"
//   tool                     a tool call (Claude: Bash `ls`; Codex: exec_command `ls`), then,
//                            once the result comes back, a final answer quoting it
//   tool:findings            the same, Claude's Bash call writing .corral/result.json
//   tool:push                the same, Claude's Bash call committing on corral/mock-push and
//                            pushing it to origin (the resolve tests)
//   overloaded               Anthropic 529 overloaded_error / OpenAI 503 server_overloaded
//   ratelimited              429 rate_limit_error / rate_limit_exceeded
//   unauthorized             401 authentication_error / invalid_api_key
//   overloaded-once:KEY[:N]  overloaded for the first N sessions (CLI runs) carrying KEY, then
//                            ok; N defaults to --overload-count (1)
//   slow:MS                  waits MS milliseconds, then ok
//   stream-error             200, starts the stream, then an overloaded error mid-stream

import fs from 'node:fs';
import http from 'node:http';

import { anthropicTexts, handleAnthropic } from './mock/anthropic.mjs';
import { estimateTokens, readBody, sendJson } from './mock/common.mjs';
import { handleOpenai, openaiTexts } from './mock/openai.mjs';

const MAX_RECORDED = 2000;
const options = parseArgs(process.argv.slice(2));
const requests = [];
// overloaded-once: KEY -> the sessions answered overloaded so far.
const overloadedSessions = new Map();
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
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    usage('--port must be 0..65535');
  }
  if (!Number.isInteger(out.overloadCount) || out.overloadCount < 0) {
    usage('--overload-count must be >= 0');
  }
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

// --- Scenarios ---------------------------------------------------------------------------

const MARKER = /\[mock:([a-z-]+)(?::([^\]:]+))?(?::([^\]]+))?\]/;

function parseScenario(texts) {
  for (const text of texts) {
    const match = MARKER.exec(text);
    if (match) return { name: match[1], arg: match[2] ?? null, arg2: match[3] ?? null };
  }
  return { name: 'ok', arg: null, arg2: null };
}

// How this request is answered: the scenario's name, except that overloaded-once turns
// into 'overloaded' or 'ok'. It counts sessions (the CLI's session header), not requests,
// so the CLI's own retries within one run do not use up N; without a session header each
// request counts.
function effectiveScenario(scenario, session, seq) {
  if (scenario.name !== 'overloaded-once') return scenario.name;
  const key = scenario.arg ?? '';
  const limit = scenario.arg2 != null ? Number(scenario.arg2) : options.overloadCount;
  let failed = overloadedSessions.get(key);
  if (!failed) overloadedSessions.set(key, (failed = new Set()));
  const id = session ?? `request-${seq}`;
  if (failed.has(id)) return 'overloaded';
  if (failed.size < limit) {
    failed.add(id);
    return 'overloaded';
  }
  return 'ok';
}

// --- The request record ------------------------------------------------------------------

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

function newRecord(req, url) {
  return {
    seq: ++sequence,
    time: new Date().toISOString(),
    method: req.method,
    path: url.pathname,
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
}

// --- Routing -----------------------------------------------------------------------------

function apiError(res, status, type, message) {
  return sendJson(res, status, { type: 'error', error: { type, message: `mock: ${message}` } });
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://mock');
  const path = url.pathname;

  if (path === '/_mock/requests' && req.method === 'GET') return sendJson(res, 200, requests);
  if (path === '/_mock/reset' && req.method === 'POST') {
    requests.length = 0;
    overloadedSessions.clear();
    sequence = 0;
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/_mock/health') return sendJson(res, 200, { ok: true });

  const record = newRecord(req, url);
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
    return apiError(res, 415, 'invalid_request_error', `cannot read the body: ${err.message}`);
  }

  const isAnthropic = req.method === 'POST' && path === '/v1/messages';
  const isOpenai = req.method === 'POST' && (path === '/v1/responses' || path === '/responses');
  if (isAnthropic || isOpenai) {
    let body;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      return apiError(res, 400, 'invalid_request_error', 'the body is not JSON');
    }
    const texts = isAnthropic ? anthropicTexts(body) : openaiTexts(body);
    const scenario = parseScenario(texts);
    record.api = isAnthropic ? 'anthropic' : 'openai';
    record.scenario = scenario.name;
    record.scenario_arg = scenario.arg;
    record.effective = effectiveScenario(scenario, record.session, record.seq);
    record.model = body.model ?? null;
    record.stream = Boolean(body.stream);
    const prompt = texts.find((text) => MARKER.test(text)) ?? texts[texts.length - 1] ?? null;
    record.prompt = prompt && prompt.length > 2000 ? prompt.slice(0, 2000) : prompt;
    return isAnthropic ? handleAnthropic(res, body, record) : handleOpenai(res, body, record);
  }

  // Made only without CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1.
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
    const model = {
      id: 'mock-model',
      type: 'model',
      object: 'model',
      display_name: 'Mock model',
      created: 0,
      created_at: '2025-01-01T00:00:00Z',
      owned_by: 'corral-mock',
    };
    const list = { object: 'list', data: [model], has_more: false, first_id: model.id, last_id: model.id };
    return sendJson(res, 200, list);
  }
  return apiError(res, 404, 'not_found_error', `no route for ${req.method} ${path}`);
}

// --- Lifecycle ---------------------------------------------------------------------------

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`mock-model: ${err.stack ?? err}\n`);
    if (!res.headersSent) apiError(res, 500, 'api_error', err.message);
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

// Stdin is watched only when it can close: a harness's pipe, a socket, or a terminal
// (Ctrl-D). A background job's /dev/null would otherwise stop the server at once.
function stdinCanClose() {
  try {
    const stat = fs.fstatSync(0);
    return stat.isFIFO() || stat.isSocket() || process.stdin.isTTY === true;
  } catch {
    return false;
  }
}
if (!options.ignoreStdin && stdinCanClose()) {
  for (const event of ['end', 'close', 'error']) process.stdin.on(event, stop);
  process.stdin.resume();
}

#!/usr/bin/env node
// A git smart-HTTP server over https for the tests of `resolve` jobs that push: node's https
// server in front of the real `git http-backend` (CGI), like a forge that lets anyone fetch
// and asks a push for Basic auth with a token. No packages needed.
//
//   node tests/agent/git-http-server.mjs --root DIR --cert CERT --key KEY --token TOKEN
//                                        [--port N] [--host 127.0.0.1]
//
// Serves the repositories under DIR (https://HOST:PORT/NAME.git). Fetches need nothing;
// pushes (git-receive-pack) need `Authorization: Basic` with the password TOKEN (any user
// name), else 401 with a Basic challenge, as GitHub answers. Prints exactly one line,
// `PORT=<n>`, once listening (port 0, the default, picks a free one); exits on SIGTERM/SIGINT.
//
//   GET /_auth   JSON array of the push requests seen: {path, user, authorized} (never the
//                password)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';

const options = parseArgs(process.argv.slice(2));
const pushes = [];

function parseArgs(argv) {
  const out = { port: 0, host: '127.0.0.1', root: null, cert: null, key: null, token: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--port') out.port = Number(value());
    else if (arg === '--host') out.host = value();
    else if (arg === '--root') out.root = value();
    else if (arg === '--cert') out.cert = value();
    else if (arg === '--key') out.key = value();
    else if (arg === '--token') out.token = value();
    else fail(`unknown argument ${arg}`);
  }
  for (const name of ['root', 'cert', 'key', 'token']) {
    if (!out[name]) fail(`--${name} is required`);
  }
  return out;
}

function fail(problem) {
  process.stderr.write(
    `git-http-server: ${problem}\n` +
      'usage: git-http-server.mjs --root DIR --cert CERT --key KEY --token TOKEN [--port N] [--host ADDR]\n',
  );
  process.exit(2);
}

// The Basic credentials of a request, or null.
function basicAuth(req) {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function isPush(url) {
  return url.pathname.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
}

// Runs git http-backend for the request and relays its CGI answer.
function backend(req, res, url, user) {
  const env = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: options.root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: req.method,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = req.headers['git-protocol'];
  if (user != null) env.REMOTE_USER = user || 'token';
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    let end = head.indexOf('\r\n\r\n');
    let sep = 4;
    if (end < 0) {
      end = head.indexOf('\n\n');
      sep = 2;
    }
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    const headers = {};
    for (const line of head.slice(0, end).toString('utf8').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.slice(end + sep));
  });
  child.on('close', (code) => {
    if (!headersDone) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`git http-backend exited with ${code}\n`);
    } else {
      res.end();
    }
  });
}

const server = https.createServer(
  { cert: fs.readFileSync(options.cert), key: fs.readFileSync(options.key) },
  (req, res) => {
    const url = new URL(req.url, 'https://localhost');
    if (url.pathname === '/_auth') {
      const text = JSON.stringify(pushes);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    let user = null;
    if (isPush(url)) {
      const auth = basicAuth(req);
      const authorized = auth != null && auth.password === options.token;
      pushes.push({ path: url.pathname, user: auth?.user ?? null, authorized });
      if (!authorized) {
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
        res.end('a push needs a token\n');
        return;
      }
      user = auth.user;
    }
    backend(req, res, url, user);
  },
);

server.listen(options.port, options.host, () => {
  process.stdout.write(`PORT=${server.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

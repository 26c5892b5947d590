// Helpers shared by the two API mocks: body reading, JSON and SSE answers, and the texts and
// token estimates both APIs answer with.

import zlib from 'node:zlib';

export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(decode(Buffer.concat(chunks), req.headers['content-encoding']).toString('utf8'));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function decode(raw, contentEncoding) {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === 'gzip') return zlib.gunzipSync(raw);
  if (encoding === 'deflate') return zlib.inflateSync(raw);
  if (encoding === 'br') return zlib.brotliDecompressSync(raw);
  if (encoding === 'zstd') {
    if (typeof zlib.zstdDecompressSync !== 'function') {
      throw new Error('zstd request bodies need Node >= 22.15');
    }
    return zlib.zstdDecompressSync(raw);
  }
  return raw;
}

export function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function startSse(res, headers = {}) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
}

export function sseEvent(res, name, data) {
  res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Text split the way a model streams it, in small deltas.
export function chunks(text, size = 24) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

// Ids carry the request's sequence number, so a test can tell which request produced what.
export function mockId(prefix, seq) {
  return `${prefix}${String(seq).padStart(6, '0')}`;
}

export function estimateTokens(text) {
  return Math.max(1, Math.ceil(text.length / 4));
}

export const TOOL_INTRO = 'I will list the files in the workspace first.';

// The final answer: the default review, or one quoting the tool's output.
export function finalText(toolOutput) {
  if (toolOutput == null) {
    return (
      'This is a mock review from the corral test model. The change looks fine: ' +
      'no blocking issues found.'
    );
  }
  const excerpt = toolOutput.length > 400 ? `${toolOutput.slice(0, 400)}...` : toolOutput;
  return `This is a mock review after running a tool. The tool returned:\n${excerpt}`;
}

// The dashboard's files as the server serves them: from the binary, with the right
// types and the security headers; no token needed; unknown files 404.
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {Server, stopAll} from './harness.mjs';

describe('dashboard files', () => {
  let server;
  before(async () => {
    server = await Server.start();
  });
  after(async () => {
    await stopAll();
    if (server) server.cleanup();
  });

  test('GET / is index.html, revalidated on every load, with a strict CSP', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /connect-src 'self' ws: wss:/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(await res.text(), /<script type="module" src="\/assets\/app.js">/);
  });

  test('assets have their content types and an ETag that answers 304', async () => {
    for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'], ['style.css', 'text/css; charset=utf-8'],
      ['favicon.svg', 'image/svg+xml'], ['pages/job.js', 'text/javascript; charset=utf-8']]) {
      const res = await fetch(`${server.url}/assets/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-type'), type, file);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
      const etag = res.headers.get('etag');
      assert.match(etag, /^"[0-9a-f]{20}"$/, file);
      assert.ok((await res.arrayBuffer()).byteLength > 0, file);
      const again = await fetch(`${server.url}/assets/${file}`, {headers: {'If-None-Match': etag}});
      assert.equal(again.status, 304, file);
      assert.equal((await again.arrayBuffer()).byteLength, 0, file);
    }
  });

  test('an unknown asset is 404 and the API still wants a token', async () => {
    const missing = await fetch(`${server.url}/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'not_found');
    assert.equal((await fetch(`${server.url}/api/v1/jobs`)).status, 401);
  });
});

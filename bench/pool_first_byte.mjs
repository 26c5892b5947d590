#!/usr/bin/env node
// Claim to first log byte of an `echo hi` job: a runner with a warm pool (DOCKER_POOL_SIZE=1)
// against a runner without, in the same run, jobs alternating between them. Prints both
// medians and the ratio pool/cold (the goal, issue 16: at most 0.3).
//
//   node bench/pool_first_byte.mjs [RUNS]    default 15; needs a build (build/corral, or
//                                            CORRAL_BINARY), DOCKER_HOST
//                                            (scripts/podman-service.sh) and the test image
//                                            (scripts/make-test-image.sh)
//
// "Claim" is the attempt's claimed_at as the server recorded it; "first log byte" is when
// GET /api/v1/jobs/{id}/logs first answers with output, polled every 2 ms from here (same
// machine, same clock; the polling adds the same ~1-3 ms to both). Both runners use the
// test image with network none, so nothing but the container start differs. Before each
// pool job the bench waits until the pool is ready again (its steady state: one job at a
// time, the refill in between); the cold runner's jobs run meanwhile, alternating.
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs';
import {cpus, loadavg, tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corral = process.env.CORRAL_BINARY ?? path.join(root, 'build/corral');
const runs = Number(process.argv[2] ?? 15);
const image = 'localhost/corral-test:latest';
if (!existsSync(corral)) throw new Error(`no ${corral}: build first, or set CORRAL_BINARY`);
if (!process.env.DOCKER_HOST) throw new Error('DOCKER_HOST is not set: eval "$(scripts/podman-service.sh start DIR)"');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(path.join(tmpdir(), 'corral-pool-bench-'));
const children = [];
function start(args, env, log) {
  const out = openSync(path.join(work, log), 'w');
  const child = spawn(corral, args, {env: {...process.env, ...env}, stdio: ['ignore', out, out]});
  child.exited = new Promise((r) => child.on('exit', r));
  children.push(child);
  return child;
}
async function until(pred, what, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let url;
let admin;
async function call(method, target, body) {
  const res = await fetch(url + target, {method, body: body ? JSON.stringify(body) : undefined,
    headers: {Authorization: `Bearer ${admin}`, ...(body ? {'Content-Type': 'application/json'} : {})}});
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${target}: ${res.status} ${text}`);
  return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  start(['server', '--listen', '127.0.0.1:0', '--data-dir', path.join(work, 'server')], {}, 'server.log');
  url = await until(() => existsSync(path.join(work, 'server/server.url')) &&
    readFileSync(path.join(work, 'server/server.url'), 'utf8').trim(), 'the server');
  admin = readFileSync(path.join(work, 'server/admin.token'), 'utf8').trim();
  const runnerIds = {};
  for (const kind of ['pool', 'cold']) {
    const {token} = await call('POST', '/api/v1/tokens', {kind: 'runner', name: kind});
    start(['runner'], {
      RUNNER_SERVER_URL: url, RUNNER_TOKEN: token, RUNNER_NAME: `bench-${kind}`, RUNNER_LABELS: kind,
      RUNNER_HEARTBEAT_INTERVAL_MS: '100', DOCKER_EXECUTOR_IMAGE: image, DOCKER_PULL_POLICY: 'never',
      DOCKER_NETWORK_MODE: 'none', DOCKER_WORKSPACE_BASE: path.join(work, `ws-${kind}`),
      DOCKER_POOL_SIZE: kind === 'pool' ? '1' : '0',
    }, `runner-${kind}.log`);
    runnerIds[kind] = await until(async () => {
      const {runners} = await call('GET', '/api/v1/runners');
      return runners.find((r) => r.name === `bench-${kind}` && r.status !== 'offline')?.id;
    }, `runner ${kind}`);
  }
  const poolReady = async () => {
    const r = await call('GET', `/api/v1/runners/${runnerIds.pool}`);
    return r.usage?.pool?.ready === 1 && r.status === 'idle';
  };
  const coldIdle = async () => (await call('GET', `/api/v1/runners/${runnerIds.cold}`)).status === 'idle';

  const results = {pool: [], cold: []};
  for (let i = 0; i < runs + 1; i++) {  // the first round warms caches and is not counted
    for (const kind of ['pool', 'cold']) {
      await until(kind === 'pool' ? poolReady : coldIdle, `the ${kind} runner to be ready`);
      const {id} = await call('POST', '/api/v1/jobs', {script: 'echo hi', labels: [kind]});
      const firstByte = await until(async () => {
        const log = await fetch(`${url}/api/v1/jobs/${id}/logs`, {headers: {Authorization: `Bearer ${admin}`}});
        const text = await log.text();
        return log.ok && text.length > 0 ? Date.now() : 0;
      }, `output of job ${id}`);
      const job = await until(async () => {
        const j = await call('GET', `/api/v1/jobs/${id}`);
        return ['succeeded', 'failed'].includes(j.state) ? j : null;
      }, `job ${id} to finish`);
      if (job.state !== 'succeeded') throw new Error(`job ${id} ${job.state}: ${job.reason}`);
      const claimed = Date.parse(job.attempts[0].claimed_at);
      if (i > 0) results[kind].push(firstByte - claimed);
    }
  }
  const p = median(results.pool);
  const c = median(results.cold);
  console.log(`claim -> first log byte of 'echo hi', ${runs} jobs each, alternating, ${cpus().length} cores`);
  console.log(`pool (DOCKER_POOL_SIZE=1): median ${p} ms   [${results.pool.join(' ')}]`);
  console.log(`cold:                      median ${c} ms   [${results.cold.join(' ')}]`);
  console.log(`ratio pool/cold: ${(p / c).toFixed(2)}`);
  console.log(`load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} catch (e) {
  console.error(`pool_first_byte: ${e.message}`);
  for (const log of ['runner-pool.log', 'runner-cold.log']) {
    if (existsSync(path.join(work, log))) console.error(`--- ${log}\n${readFileSync(path.join(work, log), 'utf8').slice(-3000)}`);
  }
  process.exitCode = 1;
} finally {
  for (const child of children.reverse()) child.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  rmSync(work, {recursive: true, force: true});
}

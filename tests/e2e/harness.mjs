// Shared by the browser tests and the screenshot script: starts the real `corral server`
// and `corral runner` binaries in temp directories, talks to the API, and launches
// Debian's chromium through playwright-core (never a downloaded browser).
//
// Waits are conditions with deadlines (waitFor below, Playwright's auto-waiting locators),
// never fixed sleeps.
import {execFile, spawn} from 'node:child_process';
import {existsSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const corralBinary = process.env.CORRAL_BINARY ?? path.join(repoRoot, 'build/corral');
export const chromiumPath = process.env.CORRAL_CHROMIUM ?? '/usr/bin/chromium';
export const testImage = 'localhost/corral-test:latest';

// Polls pred (sync or async) until it returns a truthy value; throws naming what was
// awaited when the deadline passes.
export async function waitFor(pred, {timeout = 15000, interval = 50, what = 'condition'} = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await pred();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

const children = new Set();

function startProcess(args, env, logPath) {
  const out = openSync(logPath, 'a');
  const child = spawn(corralBinary, args, {env: {...process.env, ...env}, stdio: ['ignore', out, out]});
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({code, signal})));
  child.logPath = logPath;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function processLog(child) {
  return existsSync(child.logPath) ? readFileSync(child.logPath, 'utf8') : '';
}

// Stops (SIGTERM, then SIGKILL after a grace) every process this module started.
export async function stopAll() {
  await Promise.all([...children].map(async (child) => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await child.exited;
    clearTimeout(timer);
  }));
}

export class Server {
  // Short heartbeats so a killed runner turns offline within a few seconds.
  static async start({heartbeatIntervalMs = 300, heartbeatTimeoutMs = 3000, usageSampleIntervalMs = 60000} = {}) {
    if (!existsSync(corralBinary)) throw new Error(`no corral binary at ${corralBinary}: build it, or set CORRAL_BINARY`);
    const server = new Server();
    server.dir = mkdtempSync(path.join(tmpdir(), 'corral-e2e-'));
    server.process = startProcess(
      ['server', '--listen', '127.0.0.1:0', '--data-dir', server.dir, '--heartbeat-interval-ms', String(heartbeatIntervalMs),
        '--heartbeat-timeout-ms', String(heartbeatTimeoutMs), '--sweep-interval-ms', '100',
        '--usage-sample-interval-ms', String(usageSampleIntervalMs)],
      {}, path.join(server.dir, 'server.log'));
    const urlFile = path.join(server.dir, 'server.url');
    server.url = await waitFor(() => {
      if (server.process.exitCode !== null) throw new Error(`corral server exited: ${processLog(server.process)}`);
      return existsSync(urlFile) && readFileSync(urlFile, 'utf8').trim();
    }, {timeout: 20000, what: 'corral server to write server.url'});
    server.adminToken = readFileSync(path.join(server.dir, 'admin.token'), 'utf8').trim();
    return server;
  }

  async request(method, target, {token = this.adminToken, body, expect} = {}) {
    const res = await fetch(this.url + target, {
      method,
      headers: {Authorization: `Bearer ${token}`, ...(body ? {'Content-Type': 'application/json'} : {})},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (expect !== undefined && res.status !== expect) {
      throw new Error(`${method} ${target}: expected ${expect}, got ${res.status}: ${text}`);
    }
    return text ? JSON.parse(text) : null;
  }

  get(target, options) {
    return this.request('GET', target, options);
  }

  // {id, token} of a new API token of the kind.
  createToken(kind, name = `e2e-${kind}`) {
    return this.request('POST', '/api/v1/tokens', {body: {kind, name}, expect: 201});
  }

  async stop() {
    this.process.kill('SIGTERM');
    await this.process.exited;
  }

  cleanup() {
    rmSync(this.dir, {recursive: true, force: true});
  }
}

// The Docker executor with the test image when a container engine is reachable
// (scripts/test.sh starts Podman's), otherwise the shell executor.
export function executorEnv(workspaceBase) {
  const host = process.env.DOCKER_HOST;
  if (host && host.startsWith('unix://') && existsSync(host.slice('unix://'.length))) {
    return {RUNNER_EXECUTOR: 'docker', DOCKER_HOST: host, DOCKER_EXECUTOR_IMAGE: testImage,
      DOCKER_PULL_POLICY: 'never', DOCKER_WORKSPACE_BASE: workspaceBase};
  }
  return {RUNNER_EXECUTOR: 'shell', DOCKER_WORKSPACE_BASE: workspaceBase};
}

// `corral runner` as a child process; resolves once it is registered and not offline.
export async function startRunner(server, name, {labels = [], group = '', maxJobs = 1, env: extraEnv = {}} = {}) {
  const {token} = await server.createToken('runner', `runner-${name}`);
  const env = {
    RUNNER_SERVER_URL: server.url,
    RUNNER_TOKEN: token,
    RUNNER_NAME: name,
    RUNNER_POLL_TIMEOUT_MS: '10000',
    RUNNER_STOP_GRACE_S: '2',
    RUNNER_MAX_CONCURRENT_JOBS: String(maxJobs),
    ...(labels.length ? {RUNNER_LABELS: labels.join(',')} : {}),
    ...(group ? {RUNNER_GROUP: group} : {}),
    ...executorEnv(path.join(server.dir, `workspaces-${name}`)),
    ...extraEnv,
  };
  const child = startProcess(['runner'], env, path.join(server.dir, `runner-${name}.log`));
  child.executor = env.RUNNER_EXECUTOR;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`corral runner ${name} exited: ${processLog(child)}`);
    const {runners} = await server.get('/api/v1/runners');
    return runners.some((r) => r.name === name && r.status !== 'offline');
  }, {timeout: 30000, what: `runner ${name} to register`});
  return child;
}

const execFileAsync = promisify(execFile);

// Runs the corral CLI against the server; returns stdout.
export async function corral(server, args, {token = server.adminToken} = {}) {
  const {stdout} = await execFileAsync(corralBinary, args, {
    env: {...process.env, CORRAL_SERVER: server.url, CORRAL_TOKEN: token},
  });
  return stdout;
}

export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Debian's chromium with a fresh profile; close it with closeBrowser.
export async function launchBrowser() {
  let chromium;
  try {
    ({chromium} = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed: run 'npm ci --prefix tests/e2e' (${e.message})`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'corral-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: BROWSER_ARGS,
    viewport: {width: 1280, height: 800},
  });
  context.profileDir = profile;
  return context;
}

export async function closeBrowser(context) {
  await context.close();
  rmSync(context.profileDir, {recursive: true, force: true});
}

// Signs the page in with token through the sign-in form.
export async function signIn(page, server, token) {
  await page.goto(`${server.url}/#/signin`);
  await page.locator('#token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('nav.nav').waitFor();
}

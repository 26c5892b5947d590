// The Runners page shows a runner's warm container pool (DOCKER_POOL_SIZE, docs/runner.md)
// as its heartbeat reports it: a real `corral runner` with the Docker executor keeps one
// container ready, and the row says so. Skipped without a container engine (the shell
// executor has no pool).
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {Server, closeBrowser, launchBrowser, processLog, signIn, startRunner, stopAll, waitFor}
  from './harness.mjs';

describe('runner pool in the dashboard', {timeout: 120000}, () => {
  let server;
  let browser;
  let page;
  let runner;
  const pageErrors = [];

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await stopAll();
    if (server) server.cleanup();
  });

  test('the runner row shows how many warm containers are ready', async (t) => {
    runner = await startRunner(server, 'pool-box', {env: {DOCKER_POOL_SIZE: '1', RUNNER_HEARTBEAT_INTERVAL_MS: '200'}});
    if (runner.executor !== 'docker') {
      t.skip('no container engine (DOCKER_HOST): the shell executor keeps no pool');
      return;
    }
    const user = await server.createToken('user', 'e2e-pool-user');
    await signIn(page, server, user.token);
    await page.goto(`${server.url}/#/runners`);
    const pool = page.locator('tr[data-runner-name="pool-box"] .pool');
    await waitFor(async () => (await pool.count()) === 1 && (await pool.getAttribute('data-pool-ready')) === '1',
      {timeout: 60000, what: `the pool line to show 1 ready (runner log: ${processLog(runner)})`});
    assert.equal((await pool.textContent()).trim(), 'pool 1/1 ready');
    // A runner without a pool shows no such line.
    await startRunner(server, 'plain-box');
    const plain = page.locator('tr[data-runner-name="plain-box"]');
    await plain.waitFor();
    assert.equal(await plain.locator('.pool').count(), 0);
    assert.deepEqual(pageErrors, []);
  });
});

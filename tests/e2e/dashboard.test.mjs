// Browser tests of the dashboard against the real binaries: sign in, watch a runner come
// online, follow a job's log while it runs, see it succeed, see a killed runner go offline,
// the phone layout, and the error states (bad token, unknown job, revoked token).
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {Server, closeBrowser, corral, launchBrowser, processLog, signIn, startRunner, stopAll, waitFor}
  from './harness.mjs';

const HEARTBEAT_TIMEOUT_MS = 3000;

describe('dashboard', {timeout: 180000}, () => {
  let server;
  let browser;
  let page;
  let user;      // {id, token}
  let runner;    // the corral runner child process
  let jobId;
  const pageErrors = [];

  before(async () => {
    server = await Server.start({heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS});
    user = await server.createToken('user', 'e2e-user');
    browser = await launchBrowser();
    page = await browser.newPage();
    // Script errors and CSP refusals; a failed request (401, 404) is expected in places.
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await stopAll();
    if (server) server.cleanup();
  });

  test('a wrong token is refused with a clear message', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#token').fill('crl_not_a_token');
    await page.getByRole('button', {name: 'Sign in'}).click();
    const error = page.locator('.form-error');
    await waitFor(async () => (await error.textContent()).includes('not accepted'), {what: 'the sign-in error'});
    assert.equal(await page.locator('nav.nav').count(), 0, 'still on the sign-in page');
  });

  test('signs in with a user token and keeps it for the tab only', async () => {
    await signIn(page, server, user.token);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('corral.token')), user.token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // The overview shows either the stats or says plainly that the server has none.
    await page.locator('#finished-chart, #stats-unavailable').first().waitFor();
  });

  test('a runner comes online in the Runners page', async () => {
    await page.goto(`${server.url}/#/runners`);
    await page.getByText('No runner has registered yet.').waitFor();
    runner = await startRunner(server, 'e2e-box', {labels: ['linux', 'e2e']});
    const row = page.locator('tr[data-runner-name="e2e-box"]');
    await row.locator('[data-status="idle"]').waitFor({timeout: 10000});
    assert.equal((await row.locator('.jobs-count').textContent()).trim(), '0 / 1');
    assert.match(await row.textContent(), /linux/);
    assert.match(await row.locator('.ago').textContent(), /^\d+ s ago$/);
  });

  test('a job submitted from the CLI streams its log into the page while it runs', async () => {
    // A check mark (e2 9c 94) written in two pieces, so its bytes reach the page in two
    // messages (the page is open before the second half comes); then lines with pauses;
    // then a colour.
    const script = 'printf "\\342\\234"; sleep 1.5; printf "\\224 split\\n"; ' +
      'for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.5; done; printf "\\033[32mall good\\033[0m\\n"';
    jobId = (await corral(server, ['submit', '--name', 'e2e-lines', '--label', 'e2e', '--script', script])).trim();
    assert.match(jobId, /^job/);

    await page.goto(`${server.url}/#/jobs`);
    await page.locator(`tr[data-job-id="${jobId}"] a`).click();
    await page.locator('#job-name').waitFor();
    assert.equal(await page.locator('#job-name').textContent(), 'e2e-lines');

    const log = page.locator('#log');
    await waitFor(async () => (await log.textContent()).includes('line 1'), {timeout: 20000, what: '"line 1" in the log'});
    // Seen while the job still runs: the end banner is hidden and the server says running.
    const seenEarly = await log.textContent();
    const stateThen = (await server.get(`/api/v1/jobs/${jobId}`, {token: user.token})).state;
    assert.ok(['leased', 'running'].includes(stateThen), `job was ${stateThen} when its first line showed`);
    assert.ok(!seenEarly.includes('line 8'), 'the whole log was there at once: not live');
    assert.equal(await page.locator('#log-end').isVisible(), false);

    await page.locator('#log-end[data-end-state="succeeded"]').waitFor({timeout: 20000});
    assert.match(await page.locator('#log-end').textContent(), /succeeded · exit code 0/);
    const text = await log.textContent();
    for (let i = 1; i <= 8; i += 1) assert.ok(text.includes(`line ${i}\n`), `line ${i} missing from ${text}`);
    assert.ok(text.startsWith('\u2714 split\n'), `the split character came out wrong: ${JSON.stringify(text.slice(0, 20))}`);
    // The ANSI colour became a span, and the escape bytes are gone.
    assert.equal(await log.locator('span.fg-32').textContent(), 'all good');
    assert.ok(!text.includes('\x1b'));
    await page.locator('.page-head [data-state="succeeded"]').waitFor();
    assert.equal(await page.locator('#cancel-job').count(), 0, 'no cancel button on an ended job');
    assert.match(await page.locator('#attempts-table').textContent(), /e2e-box/);
  });

  test('the job list filters by state and label', async () => {
    await page.goto(`${server.url}/#/jobs?state=succeeded`);
    await page.locator(`tr[data-job-id="${jobId}"]`).waitFor();
    await page.goto(`${server.url}/#/jobs?state=failed`);
    await page.getByText('No job matches these filters.').waitFor();
    await page.goto(`${server.url}/#/jobs?label=no-such-label`);
    await page.getByText('No job matches these filters.').waitFor();
    await page.goto(`${server.url}/#/jobs?label=e2e`);
    await page.locator(`tr[data-job-id="${jobId}"]`).waitFor();
  });

  test('the overview charts the finished job', async () => {
    await page.goto(`${server.url}/#/overview`);
    await page.locator('#finished-chart').waitFor();
    // One job has ended so far, and it succeeded: one bar of one, in one of the last hours
    // (the last, unless the hour turned since).
    assert.equal(await page.locator('#stat-finished').textContent(), '1');
    assert.equal(await page.locator('#stat-success-rate').textContent(), '100 %');
    const bars = page.locator('#finished-chart g[data-total]');
    assert.equal(await bars.count(), 24);
    const totals = await bars.evaluateAll((gs) => gs.map((g) => Number(g.dataset.total)));
    assert.deepEqual(totals.filter((n) => n > 0), [1]);
    assert.ok(totals.slice(-2).includes(1), `the bar is not in the last hours: ${totals}`);
    assert.equal(await page.locator('#finished-chart rect.bar-succeeded').count(), 1);
    assert.equal(await page.locator('#finished-chart rect.bar-failed').count(), 0);
  });

  test('a huge log keeps only its end in the page', async () => {
    // ~2.1 MB of numbered lines: more than the pane keeps (2 M characters).
    const id = (await corral(server, ['submit', '--name', 'e2e-huge', '--script', 'seq 1 320000'])).trim();
    await page.goto(`${server.url}/#/jobs/${id}`);
    await page.locator('#log-end[data-end-state="succeeded"]').waitFor({timeout: 60000});
    await page.locator('.log-trimmed').waitFor();
    const {length, head, tail} = await page.locator('#log').evaluate((el) => ({
      length: el.textContent.length, head: el.textContent.slice(0, 40), tail: el.textContent.slice(-14)}));
    assert.ok(length <= 2_000_000 && length >= 1_000_000, `kept ${length} characters`);
    assert.ok(!head.startsWith('1\n2\n'), 'the start of the log was kept');
    assert.equal(tail, '319999\n320000\n');
    // Laid out in blocks (only what is on screen is rendered), each ending at a line end so
    // that no line shows broken in two.
    const blocks = await page.locator('#log .log-block').evaluateAll((els) => els.map((el) => el.textContent));
    assert.ok(blocks.length >= 10, `${blocks.length} blocks`);
    assert.deepEqual(blocks.filter((text) => !text.endsWith('\n')), []);
  });

  test('an older server without /api/v1/stats: the overview says stats are unavailable', async () => {
    await page.route('**/api/v1/stats*', (route) => route.fulfill({status: 404,
      json: {error: {code: 'not_found', message: 'no such endpoint: /api/v1/stats'}}}));
    try {
      await page.goto(`${server.url}/#/overview`);
      await page.locator('#stats-unavailable', {hasText: 'Stats unavailable'}).waitFor();
      assert.equal(await page.locator('#finished-chart').count(), 0);
      assert.equal(await page.locator('.notice-error').count(), 0, 'a missing endpoint is not an error');
    } finally {
      await page.unroute('**/api/v1/stats*');
    }
  });

  test('the cancel button cancels a running job', async () => {
    const id = (await corral(server, ['submit', '--name', 'e2e-long', '--script', 'echo started; sleep 60'])).trim();
    // The busy runner links to the job it runs.
    await page.goto(`${server.url}/#/runners`);
    const row = page.locator('tr[data-runner-name="e2e-box"]');
    await row.locator('[data-status="busy"]').waitFor({timeout: 10000});
    assert.equal((await row.locator('.jobs-count').textContent()).trim(), '1 / 1');
    await row.locator(`a[href="#/jobs/${id}"]`).click();
    await waitFor(async () => (await page.locator('#log').textContent()).includes('started'), {timeout: 20000,
      what: 'the long job to start'});
    const cancel = page.locator('#cancel-job');
    await cancel.click();
    assert.equal(await cancel.textContent(), 'Click again to cancel', 'one click must not cancel');
    assert.equal((await server.get(`/api/v1/jobs/${id}`)).cancel_requested, false);
    // The page redraws the job every 2 s (the run time changes); the button stays armed.
    const runTime = await page.locator('#fact-run').textContent();
    await waitFor(async () => (await page.locator('#fact-run').textContent()) !== runTime, {what: 'a refresh'});
    assert.equal(await cancel.textContent(), 'Click again to cancel', 'a refresh disarmed the button');
    await cancel.click();
    await page.locator('#log-end[data-end-state="canceled"]').waitFor({timeout: 20000});
    assert.equal((await server.get(`/api/v1/jobs/${id}`)).state, 'canceled');
  });

  test('a runner killed with SIGKILL turns offline after the heartbeat timeout', async () => {
    await page.goto(`${server.url}/#/runners`);
    const row = page.locator('tr[data-runner-name="e2e-box"]');
    await row.locator('[data-status="idle"]').waitFor();
    const killedAt = Date.now();
    runner.kill('SIGKILL');
    await runner.exited;
    await row.locator('[data-status="offline"]').waitFor({timeout: HEARTBEAT_TIMEOUT_MS + 10000});
    assert.ok(Date.now() - killedAt >= HEARTBEAT_TIMEOUT_MS - 1000, 'offline before the heartbeat timeout could pass');
    assert.equal(await page.locator('[data-count="offline"]').textContent(), '1');
  });

  test('the queue page shows each waiting job and why it waits', async () => {
    const id = (await corral(server, ['submit', '--name', 'e2e-gpu', '--label', 'gpu', '--script', 'true'])).trim();
    const queue = await server.get('/api/v1/queue');
    await page.goto(`${server.url}/#/queue`);
    await page.locator('.stat-value[data-count="queued"]', {hasText: /^[1-9]/}).waitFor();
    if (queue.waiting) {
      const row = page.locator(`#waiting-table tr[data-job-id="${id}"]`);
      await row.waitFor();
      assert.notEqual((await row.locator('.reason').textContent()).trim(), '');
    } else {
      await page.getByText('This server does not report why jobs wait.').waitFor();
    }
  });

  test('waiting reasons are rendered as text', async () => {
    // The server's answer with a reason that looks like markup: it must stay text.
    await page.route('**/api/v1/queue', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.waiting = [{id: 'job_x', name: 'held', labels: ['gpu'], group: '', type: '', priority: 0,
        created_at: new Date().toISOString(), not_before: null, reason: 'no runner has label <b>gpu</b>'}];
      await route.fulfill({response, json: body});
    });
    try {
      await page.goto(`${server.url}/#/queue`);
      const reason = page.locator('#waiting-table tr[data-job-id="job_x"] .reason');
      await reason.waitFor();
      assert.equal(await reason.textContent(), 'no runner has label <b>gpu</b>');
      assert.equal(await reason.locator('b').count(), 0);
    } finally {
      await page.unroute('**/api/v1/queue');
    }
  });

  test('an unknown job says so', async () => {
    await page.goto(`${server.url}/#/jobs/job_does_not_exist`);
    await page.getByText('There is no job job_does_not_exist').waitFor();
  });

  test('fits a phone: no sideways scrolling of the page, the nav works', async () => {
    await page.setViewportSize({width: 390, height: 844});
    try {
      for (const route of ['#/overview', '#/runners', '#/queue', '#/jobs', `#/jobs/${jobId}`]) {
        await page.goto(`${server.url}/${route}`);
        await page.locator('.content h1').first().waitFor();
        await page.locator('.content .table, .content .stat, .content .notice').first().waitFor();
        const widths = await page.evaluate(() => ({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth}));
        assert.ok(widths.doc <= 390 && widths.body <= 390, `${route} overflows sideways: ${JSON.stringify(widths)}`);
      }
      const jobsLink = page.locator('nav.nav a', {hasText: 'Runners'});
      assert.ok(await jobsLink.isVisible());
      await jobsLink.click();
      await page.locator('.content h1', {hasText: 'Runners'}).waitFor();
      assert.ok(page.url().endsWith('#/runners'));
    } finally {
      await page.setViewportSize({width: 1280, height: 800});
    }
  });

  test('a revoked token sends the user back to sign in with a message', async () => {
    await page.goto(`${server.url}/#/runners`);
    await page.locator('tr[data-runner-name="e2e-box"]').waitFor();
    await server.request('DELETE', `/api/v1/tokens/${user.id}`, {expect: 200});
    await page.locator('#token').waitFor({timeout: 10000});
    assert.match(await page.locator('.notice-warn').textContent(), /Your session ended/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('corral.token')), null);
  });

  test('no script errors or Content-Security-Policy refusals in the page', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('the server log has no errors', () => {
    const log = processLog(server.process);
    assert.ok(!/\[error\]/.test(log), log);
  });

  test('a stopped server shows as unreachable, keeping the last data', async () => {
    await signIn(page, server, server.adminToken);
    await page.goto(`${server.url}/#/runners`);
    await page.locator('tr[data-runner-name="e2e-box"]').waitFor();
    await server.stop();
    await page.locator('.notice-error', {hasText: 'unreachable'}).waitFor({timeout: 10000});
    assert.equal(await page.locator('tr[data-runner-name="e2e-box"]').count(), 1);
  });
});

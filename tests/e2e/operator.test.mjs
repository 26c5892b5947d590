// Browser tests of the dashboard's operator pages against the real binaries: "Add runner"
// makes a registration token and a command, and that command, run as shown (shell
// executor), registers a runner; the runner page shows its system, capabilities and recent
// jobs, drains and resumes it, and shows remote commands (hidden while the server has no
// such route); the schedules, repositories and tokens pages list what the API holds, pause
// a schedule and revoke and create a token; a user token sees no admin pages.
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {after, before, describe, test} from 'node:test';

import {Server, closeBrowser, corral, corralBinary, launchBrowser, signIn, stopAll, waitFor} from './harness.mjs';

// Splits the shown command ("corral runner \<newline> --flag value ...") into its words,
// reading single quotes as a POSIX shell does.
function shellWords(text) {
  const words = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const match of text.replace(/\\\n/g, ' ').matchAll(re)) {
    words.push(match[1] !== undefined ? match[1].replace(/'\\''/g, '\'') : match[2]);
  }
  return words;
}

describe('operator pages', {timeout: 120000}, () => {
  // Goes to a page, mounting it afresh even when the tab already shows it (a goto to the
  // same URL and hash would not).
  const visit = async (hash) => {
    if (page.url().endsWith(hash)) {
      await page.goto(`${server.url}/#/overview`);
      await page.locator('.content h1').first().waitFor();
    }
    await page.goto(`${server.url}/${hash}`);
  };

  let server;
  let browser;
  let page;
  let runner;         // the `corral runner` started from the page's command
  let runnerLog;
  let runnerId;
  const RUNNER = 'op-box';
  const pageErrors = [];

  before(async () => {
    // A resource sample a second (the default is a minute), so the runner page has a history
    // to chart within the test.
    server = await Server.start({usageSampleIntervalMs: 1000});
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    await signIn(page, server, server.adminToken);
  });

  after(async () => {
    if (runner && runner.exitCode === null) {
      runner.kill('SIGTERM');
      const timer = setTimeout(() => runner.kill('SIGKILL'), 10000);
      await runner.exited;
      clearTimeout(timer);
    }
    if (browser) await closeBrowser(browser);
    await stopAll();
    if (server) server.cleanup();
  });

  test('Add runner shows a token once and a command that really registers a runner', async () => {
    await page.goto(`${server.url}/#/runners`);
    await page.getByRole('button', {name: 'Add runner'}).click();
    await page.getByLabel('Runner name').fill(RUNNER);
    await page.getByLabel('Labels (optional, comma-separated)').fill('linux, op');
    await page.getByRole('button', {name: 'Create registration token'}).click();

    const command = await page.locator('#add-runner-command').textContent();
    const token = (await page.locator('#new-runner-token').textContent()).trim();
    assert.match(await page.locator('#add-runner .notice-warn').textContent(), /not shown again/);
    assert.ok(command.startsWith('corral runner'), command);
    assert.ok(command.includes(`--server-url ${server.url}`), command);
    assert.ok(command.includes(`--token ${token}`), command);
    assert.ok(command.includes(`--name ${RUNNER}`), command);
    assert.ok(command.includes('--labels linux,op'), command);
    const env = await page.locator('#add-runner-env').textContent();
    assert.ok(env.includes(`export RUNNER_TOKEN=${token}`) && env.trim().endsWith('corral runner'), env);
    assert.ok((await page.locator('#add-runner-dotenv').textContent()).includes(`RUNNER_TOKEN=${token}\n`));
    assert.equal(await page.locator('#add-runner-compose').textContent(), 'docker compose -f docker-compose.runner.yml up -d');
    const {tokens} = await server.get('/api/v1/tokens');
    assert.ok(tokens.some((t) => t.kind === 'runner' && t.name === `runner-${RUNNER}`), 'a runner token was made');
    // The copy button puts the command on the clipboard (127.0.0.1 is a secure context).
    await browser.grantPermissions(['clipboard-read', 'clipboard-write'], {origin: server.url});
    await page.getByRole('button', {name: 'Copy the command line'}).click();
    await page.getByRole('button', {name: 'Copied'}).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command);

    // The command as shown, with the shell executor (no container engine needed).
    const words = shellWords(command);
    assert.deepEqual(words.slice(0, 2), ['corral', 'runner']);
    const work = mkdtempSync(path.join(tmpdir(), 'corral-op-runner-'));
    runnerLog = path.join(work, 'runner.log');
    const out = openSync(runnerLog, 'a');
    runner = spawn(corralBinary, words.slice(1), {
      env: {...process.env, RUNNER_EXECUTOR: 'shell', DOCKER_WORKSPACE_BASE: path.join(work, 'ws'),
        RUNNER_POLL_TIMEOUT_MS: '10000', RUNNER_STOP_GRACE_S: '2'},
      stdio: ['ignore', out, out],
    });
    runner.exited = new Promise((resolve) => runner.once('exit', () => {
      rmSync(work, {recursive: true, force: true});
      resolve();
    }));

    const row = page.locator(`tr[data-runner-name="${RUNNER}"]`);
    await waitFor(async () => {
      if (runner.exitCode !== null) throw new Error(`corral runner exited: ${existsSync(runnerLog) ? readFileSync(runnerLog, 'utf8') : ''}`);
      return row.locator('[data-status="idle"]').isVisible();
    }, {timeout: 20000, what: 'the runner started from the shown command to appear idle'});
    runnerId = await row.getAttribute('data-runner-id');
    await row.getByRole('link', {name: RUNNER}).click();
    await page.locator('#runner-name', {hasText: RUNNER}).waitFor();
    assert.ok(page.url().endsWith(`#/runners/${runnerId}`));
  });

  test('the runner page shows system, capabilities and usage', async () => {
    await visit(`#/runners/${runnerId}`);
    await page.locator('#runner-system').waitFor();
    const runnerJson = await server.get(`/api/v1/runners/${runnerId}`);
    assert.equal((await page.locator('#system-hostname').textContent()).trim(), runnerJson.system.hostname);
    assert.equal((await page.locator('#system-cpus').textContent()).trim(), String(runnerJson.system.cpus));
    assert.match(await page.locator('#system-memory').textContent(), /iB$/);
    assert.equal((await page.locator('[data-capability="executor"] dd').textContent()).trim(), 'shell');
    assert.match(await page.locator('[data-capability="git"] dd').textContent(), /\d+\.\d+/);
    assert.match(await page.locator('#runner-version').textContent(), /\S/);
    assert.match(await page.locator('#runner-usage').textContent(), /0 \/ 1/);
    assert.match(await page.locator('#runner-status').textContent(), /idle/);
  });

  test('the runner page charts its resource use from the server\'s samples', async () => {
    const usage = await waitFor(async () => {
      const answer = await server.get(`/api/v1/runners/${runnerId}/usage`);
      return answer.samples.length >= 2 && answer;
    }, {timeout: 20000, what: 'two usage samples of the runner'});
    assert.ok(usage.samples.every((s) => s.memory_available_bytes > 0), JSON.stringify(usage));
    await visit(`#/runners/${runnerId}`);
    const running = page.locator('#usage-history-running');
    await running.waitFor();
    assert.match(await running.locator('figcaption').textContent(), /^Running jobs: now 0, at most 1/);
    assert.match(await page.locator('#usage-history-memory figcaption').textContent(), /^Memory available: now \d/);
    assert.match(await page.locator('#usage-history-load figcaption').textContent(), /^Load \(1 min\): now \d+\.\d\d/);
    const d = await running.locator('path.usage-line').getAttribute('d');
    assert.match(d, /^M [\d.]+ [\d.]+ L /, d);
  });

  test('the runner page lists the jobs it ran', async () => {
    await visit(`#/runners/${runnerId}`);
    await page.locator('#runner-no-jobs').waitFor();
    const jobId = (await corral(server, ['submit', '--name', 'op-job', '--label', 'op', '--script', 'echo hello'])).trim();
    const row = page.locator(`#runner-jobs-table tr[data-job-id="${jobId}"]`);
    await row.locator('[data-state="succeeded"]').waitFor({timeout: 20000});
    assert.match(await row.textContent(), /op-job/);
    await row.getByRole('link', {name: 'op-job'}).click();
    await page.locator('#job-name', {hasText: 'op-job'}).waitFor();
  });

  test('drain and resume from the runner page change its status', async () => {
    await visit(`#/runners/${runnerId}`);
    await page.getByRole('button', {name: 'Drain', exact: true}).click();
    await page.locator('#runner-status [data-status="draining"]').waitFor();
    assert.equal((await server.get(`/api/v1/runners/${runnerId}`)).status, 'draining');
    await page.getByRole('button', {name: 'Resume', exact: true}).click();
    await page.locator('#runner-status [data-status="idle"]').waitFor();
    assert.equal((await server.get(`/api/v1/runners/${runnerId}`)).status, 'idle');
  });

  test('the commands section follows the server: hidden without the route, listed with it', async () => {
    // Against this server, as it is.
    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/runners/${runnerId}/commands`));
    await visit(`#/runners/${runnerId}`);
    const status = (await answered).status();
    const section = page.locator('#runner-commands');
    if (status === 404) {
      await page.locator('#runner-system').waitFor();
      assert.equal(await section.isVisible(), false, 'no commands section on a server without the route');
    } else {
      assert.equal(status, 200);
      await section.waitFor();
      await page.locator('#command-resume').click();
      await section.locator('tr[data-command-type="resume"]').first().waitFor();
    }

    // The shape the server will answer (GET newest first; POST 201), played by the page's
    // network layer, so the table and the buttons are checked before the route lands.
    const posted = [];
    const commands = [
      {id: 'cmd_2', runner_id: runnerId, type: 'update', state: 'failed', message: 'self-check failed: rolled back',
        created_at: new Date().toISOString(), created_by: 'tok_admin', delivered_at: new Date().toISOString(),
        finished_at: new Date().toISOString(), version: '0.9.0'},
      {id: 'cmd_1', runner_id: runnerId, type: 'drain', state: 'succeeded', message: null,
        created_at: new Date(Date.now() - 60000).toISOString(), created_by: 'tok_admin',
        delivered_at: null, finished_at: null, version: null},
    ];
    await page.route(`**/api/v1/runners/${runnerId}/commands`, async (route) => {
      if (route.request().method() === 'POST') {
        const body = route.request().postDataJSON();
        posted.push(body.type);
        commands.unshift({id: `cmd_${commands.length + 1}`, runner_id: runnerId, type: body.type, state: 'pending',
          message: null, created_at: new Date().toISOString(), created_by: 'tok_admin', delivered_at: null,
          finished_at: null, version: null});
        await route.fulfill({status: 201, contentType: 'application/json', body: JSON.stringify(commands[0])});
      } else {
        await route.fulfill({status: 200, contentType: 'application/json', body: JSON.stringify({commands})});
      }
    });
    try {
      await visit(`#/runners/${runnerId}`);
      await section.locator('tr[data-command-id="cmd_2"]').waitFor();
      assert.match(await section.locator('tr[data-command-id="cmd_2"]').textContent(), /update.*failed.*rolled back/);
      // Restart takes two clicks.
      const restart = page.locator('#command-restart');
      await restart.click();
      await page.locator('#command-restart[data-armed="true"]').waitFor();
      assert.deepEqual(posted, []);
      await restart.click();
      await section.locator('tr[data-command-type="restart"] [data-state="pending"]').waitFor();
      assert.deepEqual(posted, ['restart']);
    } finally {
      await page.unroute(`**/api/v1/runners/${runnerId}/commands`);
    }
  });

  test('the schedules page lists the API\'s schedules and pauses one', async () => {
    const created = await server.request('POST', '/api/v1/schedules', {expect: 201, body: {
      name: 'nightly-op', cron: '0 2 * * *', timezone: 'Europe/Berlin', job: {script: 'echo nightly', labels: ['op']}}});
    await page.goto(`${server.url}/#/schedules`);
    const row = page.locator('tr[data-schedule-name="nightly-op"]');
    await row.waitFor();
    const text = await row.textContent();
    assert.ok(text.includes('0 2 * * *') && text.includes('Europe/Berlin'), text);
    assert.match(await row.locator('.next-run').textContent(), /\d/);
    await row.getByRole('button', {name: 'Pause nightly-op'}).click();
    await page.locator('tr[data-schedule-name="nightly-op"][data-paused="true"]').waitFor();
    assert.equal((await server.get(`/api/v1/schedules/${created.id}`)).paused, true);
    await page.getByRole('button', {name: 'Resume nightly-op'}).click();
    await page.locator('tr[data-schedule-name="nightly-op"][data-paused="false"]').waitFor();
  });

  test('the repositories page lists the mappings', async () => {
    await server.request('PUT', '/api/v1/repos/acme/widgets', {expect: 200, body: {group: 'gpu', steward: {runner: RUNNER}}});
    await page.goto(`${server.url}/#/repos`);
    const row = page.locator('tr[data-repo="acme/widgets"]');
    await row.waitFor();
    assert.match(await row.textContent(), /gpu.*runner op-box/);
  });

  test('the tokens page lists tokens, revokes one and creates one', async () => {
    const doomed = await server.createToken('user', 'op-doomed');
    await page.goto(`${server.url}/#/tokens`);
    const row = page.locator(`tr[data-token-id="${doomed.id}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /op-doomed.*user/);
    assert.ok(await page.locator(`tr[data-token-name="runner-${RUNNER}"][data-token-kind="runner"]`).isVisible());
    const revoke = row.getByRole('button', {name: 'Revoke op-doomed'});
    await revoke.click();
    await revoke.click();
    await row.locator('.token-state', {hasText: 'revoked'}).waitFor();
    const {tokens} = await server.get('/api/v1/tokens');
    assert.ok(tokens.find((t) => t.id === doomed.id).revoked_at, 'revoked in the API');
    await server.request('GET', '/api/v1/runners', {token: doomed.token, expect: 401});

    await page.getByRole('button', {name: 'Create token'}).click();
    await page.getByLabel('Kind').selectOption('user');
    await page.getByLabel('Name', {exact: true}).fill('op-made-here');
    await page.getByRole('button', {name: 'Create', exact: true}).click();
    const secret = (await page.locator('#created-token-secret').textContent()).trim();
    assert.match(await page.locator('#token-created .notice-warn').textContent(), /not shown again/);
    await page.locator('tr[data-token-name="op-made-here"]').waitFor();
    await server.request('GET', '/api/v1/runners', {token: secret, expect: 200});
  });

  test('a user token sees no admin pages and gets a clear message on them', async () => {
    const user = await server.createToken('user', 'op-user');
    const userPage = await browser.newPage();
    try {
      await signIn(userPage, server, user.token);
      await userPage.goto(`${server.url}/#/tokens`);
      await userPage.getByText('Tokens are for admins').waitFor();
      await userPage.goto(`${server.url}/#/repos`);
      await userPage.getByText('Repository mappings are for admins').waitFor();
      await userPage.goto(`${server.url}/#/runners`);
      await userPage.locator(`tr[data-runner-name="${RUNNER}"]`).waitFor();
      await waitFor(async () => !(await userPage.locator('nav.nav a', {hasText: 'Tokens'}).isVisible()),
        {what: 'the Tokens link to hide'});
      assert.equal(await userPage.getByRole('button', {name: 'Add runner'}).count(), 0);
      await userPage.goto(`${server.url}/#/runners/${runnerId}`);
      await userPage.locator('#runner-system').waitFor();
      assert.equal(await userPage.getByRole('button', {name: 'Drain', exact: true}).isVisible(), false);
    } finally {
      await userPage.close();
    }
  });

  test('no script errors on the way', () => {
    assert.deepEqual(pageErrors, []);
  });
});

// Agent jobs in the dashboard (issue 15), against the real server: the test plays the runner
// over the HTTP protocol (register, claim, start, log, PUT events, finish) with the event
// streams of agent_fixtures.mjs, so no agent CLI is needed here. The job page shows the
// Agent box and the transcript (tool calls folded, agent text as text, never markup), the
// raw events download, and the overview charts the day's agent cost.
import assert from 'node:assert/strict';
import {readFile} from 'node:fs/promises';
import {after, before, describe, test} from 'node:test';

import {XSS_TEXT, claudeEvents, claudeLog, claudeResult, codexEvents, codexLog, codexResult} from './agent_fixtures.mjs';
import {Server, closeBrowser, launchBrowser, processLog, signIn, stopAll, waitFor} from './harness.mjs';

// The runner's side of the protocol (docs/api.md, "Runner protocol"), spoken directly.
class ScriptedRunner {
  static async register(server, name) {
    const {token} = await server.createToken('runner', `runner-${name}`);
    const reg = await server.request('POST', '/api/v1/runners/register', {token, body: {name, max_concurrent_jobs: 4},
      expect: 200});
    return Object.assign(new ScriptedRunner(), {server, id: reg.runner_id, secret: reg.secret});
  }

  async send(method, target, body, contentType = 'application/json') {
    const res = await fetch(this.server.url + target, {method, body,
      headers: {Authorization: `Bearer ${this.secret}`, 'Content-Type': contentType}});
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${target}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // Claims the job (it must be the one queued) and starts its attempt: the attempt's URL.
  async claimAndStart(jobId) {
    const {jobs} = await this.send('POST', `/api/v1/runners/${this.id}/claim`, JSON.stringify({slots: 1, wait_ms: 5000}));
    assert.deepEqual(jobs.map((j) => j.job_id), [jobId]);
    assert.ok(jobs[0].spec.agent, 'the claimed job is an agent job');
    const attemptUrl = `/api/v1/jobs/${jobId}/attempts/${jobs[0].attempt}`;
    await this.send('POST', `${attemptUrl}/start`, '{}');
    return attemptUrl;
  }

  async log(attemptUrl, text) {
    await this.send('POST', `${attemptUrl}/logs?offset=0`, text, 'application/octet-stream');
  }

  async finish(attemptUrl, events, result) {
    await this.send('PUT', `${attemptUrl}/events`, events, 'application/x-ndjson');
    await this.send('POST', `${attemptUrl}/finish`, JSON.stringify({state: 'succeeded', exit_code: 0, reason: '', result}));
  }
}

describe('agent jobs in the dashboard', {timeout: 90000}, () => {
  let server;
  let browser;
  let page;
  let user;
  let runner;
  const pageErrors = [];
  const dialogs = [];

  // A hash that is already the page's would not route again: go by another page.
  const openOverview = async () => {
    await page.goto(`${server.url}/#/runners`);
    await page.goto(`${server.url}/#/overview`);
  };

  const submit = async (spec) => (await server.request('POST', '/api/v1/jobs', {token: user.token, body: spec, expect: 201})).id;

  before(async () => {
    server = await Server.start();
    user = await server.createToken('user', 'e2e-agent-user');
    runner = await ScriptedRunner.register(server, 'scripted-agent-box');
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      d.dismiss();
    });
    await signIn(page, server, user.token);
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await stopAll();
    if (server) server.cleanup();
  });

  test('a Claude Code job: the Agent box, then the transcript once it finishes', async () => {
    const id = await submit({name: 'e2e-review', agent: {cli: 'claude', prompt: 'Review the change in src/app.c.'}});
    const attemptUrl = await runner.claimAndStart(id);
    await runner.log(attemptUrl, claudeLog);

    // While it runs: the box knows the CLI, the transcript is promised, the log is live.
    await page.goto(`${server.url}/#/jobs/${id}`);
    await page.locator('#agent-box').waitFor();
    assert.equal(await page.locator('#agent-cli').textContent(), 'Claude Code');
    await page.locator('#agent-pending', {hasText: 'appear when the agent finishes'}).waitFor();
    await page.locator('#transcript-status', {hasText: 'appears when the agent finishes'}).waitFor();
    await waitFor(async () => (await page.locator('#log').textContent()).includes('> Bash: git diff --stat HEAD~1'),
      {what: 'the agent lines in the live log'});
    assert.equal(await page.locator('#agent-prompt').textContent(), 'Review the change in src/app.c.');

    // It finishes: the page reads the events by itself (it polls the job every 2 s).
    await runner.finish(attemptUrl, claudeEvents, claudeResult);
    await page.locator('#transcript-body .tr-text').first().waitFor({timeout: 10000});

    const text = async (sel) => (await page.locator(sel).textContent()).trim();
    assert.equal(await text('#agent-cli'), 'Claude Code 2.1.332');
    assert.equal(await text('#agent-model'), 'claude-sonnet-4-5-20250929');
    assert.equal(await text('#agent-cost'), '$0.0123');
    assert.equal(await text('#agent-input-tokens'), '1,200');
    assert.equal(await text('#agent-output-tokens'), '345');
    assert.equal(await text('#agent-cache-tokens'), '9,000');
    assert.equal(await text('#agent-turns'), '4');
    assert.equal(await text('#agent-duration'), '12 s');
    assert.equal(await text('#agent-session'), '6f1c2a9e-0d7b-4c55-9a61-2f1e3c4d5b6a');
    assert.match(await text('#agent-result'), /the return value of write\(\) is not checked/);
    assert.match(await text('#transcript-sub'), /^11 events$/);

    const body = page.locator('#transcript-body');
    const said = await body.locator('.tr-text').allTextContents();
    assert.deepEqual(said, ['I will look at the change first.', XSS_TEXT, 'Review done: one finding in src/app.c.']);
    // The markup in the agent's words stayed text: no element, no alert.
    assert.equal(await page.locator('#transcript img, #agent-box img').count(), 0);
    assert.match(await body.locator('[data-kind="start"]').textContent(), /Claude Code 2\.1\.332 · model claude-sonnet/);
    assert.match(await body.locator('[data-kind="end"]').textContent(), /^Finished · 4 turns · 12 s · \$0\.0123/);

    // A tool call is one folded line; a click opens it on its input and result.
    const tools = body.locator('details[data-kind="tool"]');
    assert.deepEqual(await tools.locator('.tr-tool-summary').allTextContents(),
      ['Bash: git diff --stat HEAD~1', 'Read: /workspace/src/missing.c', 'Bash: make test']);
    const diff = tools.nth(0);
    assert.equal(await diff.evaluate((d) => d.open), false);
    assert.equal(await diff.locator('pre').first().isVisible(), false);
    await diff.locator('summary').click();
    assert.equal(await diff.evaluate((d) => d.open), true);
    const [input, result] = await diff.locator('pre').allTextContents();
    assert.deepEqual(JSON.parse(input), {command: 'git diff --stat HEAD~1', description: 'Show what the change touches'});
    assert.match(result, /1 file changed/);
    assert.ok(await diff.locator('pre').first().isVisible());

    // The failed call is marked; the long result is cut with a note.
    const failed = tools.nth(1);
    assert.match(await failed.getAttribute('class'), /tr-failed/);
    assert.equal(await failed.locator('.tr-badge-error').textContent(), 'error');
    assert.equal(await body.locator('.tr-failed').count(), 1);
    const long = tools.nth(2);
    await long.locator('summary').click();
    assert.equal((await long.locator('pre').nth(1).textContent()).length, 20000);
    assert.match(await long.locator('.tr-note').textContent(),
      /^Cut short: the first 20,000 of 58,892 characters of the result are shown/);

    // The raw events download as they were sent.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#agent-events-download').click()]);
    assert.equal(download.suggestedFilename(), `${id}-attempt-1-events.ndjson`);
    assert.equal(await readFile(await download.path(), 'utf8'), claudeEvents);

    // Expand all opens every fold.
    await page.locator('#transcript-expand').click();
    assert.deepEqual(await body.locator('details').evaluateAll((ds) => ds.map((d) => d.open)), [true, true, true]);
    assert.deepEqual(dialogs, []);
  });

  test('a Codex job: no cost, commands with exit codes, a file change', async () => {
    const id = await submit({agent: {cli: 'codex', prompt: 'Fix the unchecked write.', model: 'gpt-5-codex'}});
    const attemptUrl = await runner.claimAndStart(id);
    await runner.log(attemptUrl, codexLog);
    await runner.finish(attemptUrl, codexEvents, codexResult);

    // Opened after it ended: the transcript comes at once.
    await page.goto(`${server.url}/#/jobs/${id}`);
    const body = page.locator('#transcript-body');
    await body.locator('.tr-text').waitFor();
    assert.equal(await page.locator('#job-name').textContent(), 'codex agent');
    assert.equal(await page.locator('#agent-cli').textContent(), 'Codex');
    assert.equal(await page.locator('#agent-cost').textContent(), '—');
    assert.equal(await page.locator('#agent-input-tokens').textContent(), '2,000');
    assert.equal(await page.locator('#agent-cache-tokens').textContent(), '3,000');
    assert.equal(await page.locator('#agent-result-card').isVisible(), false, 'nothing beside result.agent');
    assert.equal(await body.locator('.tr-text').textContent(), 'Fixed the unchecked write in src/app.c.');
    assert.deepEqual(await body.locator('details[data-kind="tool"] .tr-tool-summary').allTextContents(),
      ['shell: bash -lc ls', "shell: bash -lc 'make test'", 'edit: src/app.c']);
    const make = body.locator('details[data-kind="tool"]').nth(1);
    assert.equal(await make.locator('.tr-badge-error').textContent(), 'exit 2');
    await make.locator('summary').click();
    assert.match(await make.locator('pre').nth(1).textContent(), /make: \*\*\* \[test\] Error 2/);
    assert.equal(await body.locator('[data-kind="reasoning"] summary').textContent(), 'Thinking');
    assert.equal(await body.locator('[data-kind="end"]').textContent(), 'Finished · 1 turn · 2,000 in / 700 out tokens · 3,000 cache read');

    // Fits a phone: the long lines wrap or scroll inside their cards.
    await page.setViewportSize({width: 390, height: 844});
    try {
      await make.locator('pre').first().waitFor();
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.body.scrollWidth]);
      assert.ok(widths.every((w) => w <= 390), `the agent job page overflows sideways: ${widths}`);
    } finally {
      await page.setViewportSize({width: 1280, height: 800});
    }
  });

  test('a job that is no agent job has no Agent box or transcript', async () => {
    const id = await submit({name: 'e2e-plain', script: 'true'});
    await page.goto(`${server.url}/#/jobs/${id}`);
    await page.locator('#log').waitFor();
    await page.locator('#job-spec').waitFor();
    assert.equal(await page.locator('#agent-box, #transcript, #agent-result-card').count(), 0);
  });

  test('the overview charts today\'s agent cost and jobs', async () => {
    await openOverview();
    await page.locator('#agent-cost-chart').waitFor();
    const stats = await server.get('/api/v1/stats', {token: user.token});
    const today = stats.agent_by_day.at(-1);
    assert.equal(today.jobs, 2);
    const bars = page.locator('#agent-cost-chart g[data-day]');
    assert.equal(await bars.count(), 14);
    const last = bars.last();
    assert.equal(await last.getAttribute('data-day'), today.day);
    assert.equal(Number(await last.getAttribute('data-cost')), 0.0123);
    assert.equal(await last.getAttribute('data-jobs'), '2');
    assert.equal(await last.locator('rect.bar-agent').count(), 1);
    assert.equal(await page.locator('#agent-cost-today').textContent(), 'today: $0.0123 · 2 jobs');
  });

  test('the overview without agent jobs, and from a server without agent_by_day', async () => {
    const withDays = (rewrite) => async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      rewrite(body);
      await route.fulfill({response, json: body});
    };
    await page.route('**/api/v1/stats*', withDays((body) => {
      body.agent_by_day = body.agent_by_day.map((d) => ({...d, jobs: 0, cost_usd: 0, input_tokens: 0, output_tokens: 0}));
    }));
    try {
      await openOverview();
      await page.locator('#agent-cost-empty', {hasText: 'No agent jobs in the last 14 days.'}).waitFor();
      assert.equal(await page.locator('#agent-cost-chart').count(), 0);
    } finally {
      await page.unroute('**/api/v1/stats*');
    }
    await page.route('**/api/v1/stats*', withDays((body) => {
      delete body.agent_by_day;
    }));
    try {
      await openOverview();
      await page.locator('#finished-chart').waitFor();
      assert.equal(await page.locator('#agent-cost').count(), 0);
    } finally {
      await page.unroute('**/api/v1/stats*');
    }
  });

  test('no script errors, CSP refusals or dialogs; the server log has no errors', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
    assert.ok(!/\[error\]/.test(processLog(server.process)), processLog(server.process));
  });
});

// Browser test of the workflow pages against the real binaries: a run started with
// `corral workflow run` (a 2-way matrix job, a job that needs it, a failing job and a
// dependent that is skipped) is listed on #/workflows and drawn on its page as a graph of
// 5 nodes and 3 edges while it waits for a runner; a `corral runner` (the Docker executor
// on Podman when DOCKER_HOST is set) then runs it and the nodes turn succeeded, failed and
// skipped; selecting a job lists its steps, and opening a step shows its own output and no
// other step's; Re-run failed jobs (two clicks) starts attempt 2; a second run with a long
// step shows its output while it runs and is canceled with two clicks.
import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {after, before, describe, test} from 'node:test';

import {Server, closeBrowser, corral, launchBrowser, signIn, startRunner, stopAll, waitFor} from './harness.mjs';

const WORKFLOW = `name: e2e graph
on: push
jobs:
  build:
    runs-on: [self-hosted, wf]
    strategy:
      matrix:
        variant: [alpha, beta]
    steps:
      - name: Compile \${{ matrix.variant }}
        run: echo "compiling \${{ matrix.variant }}"
      - name: Package
        run: echo "packaged \${{ matrix.variant }}"
  test:
    needs: build
    runs-on: wf
    steps:
      - run: echo "testing the build"
  lint:
    runs-on: wf
    steps:
      - name: Check style
        run: echo "style is fine"
      - name: Break
        run: |
          echo "lint found a problem"
          exit 3
      - name: Never
        run: echo "never printed"
  deploy:
    needs: [lint, test]
    runs-on: wf
    steps:
      - run: echo deploying
`;

// One job whose step prints, then waits to be canceled.
const SLOW_WORKFLOW = `name: e2e slow
on: push
jobs:
  wait:
    runs-on: wf
    steps:
      - name: Sleep
        run: |
          echo "sleeping now"
          sleep 120
`;

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b';

describe('workflow pages', {timeout: 120000}, () => {
  let server;
  let browser;
  let page;
  let runId;
  const pageErrors = [];

  const node = (key) => page.locator(`#wf-graph .wf-node[data-key="${key}"]`);
  const step = (name) => page.locator('#wf-steps details.wf-step', {has: page.locator('.wf-step-name', {hasText: name})});
  const select = async (key) => {
    await node(key).click();
    await page.locator('#wf-job-name', {hasText: key === 'build.2' ? 'beta' : key}).waitFor();
  };

  before(async () => {
    server = await Server.start();
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    await signIn(page, server, server.adminToken);
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    await stopAll();
    if (server) server.cleanup();
  });

  test('with no run yet, the list says how to start one', async () => {
    await page.getByRole('link', {name: 'Workflows'}).click();
    const empty = page.locator('#workflows-empty');
    await empty.waitFor();
    assert.match(await empty.textContent(), /corral workflow run FILE/);
  });

  test('a waiting run is listed and drawn: 5 nodes, 3 edges, Cancel offered', async () => {
    const file = path.join(server.dir, 'graph.yml');
    writeFileSync(file, WORKFLOW);
    runId = (await corral(server, ['workflow', 'run', file, '--event', 'push',
      '--repo', 'https://github.com/acme/widgets.git', '--sha', SHA])).trim();
    assert.match(runId, /^wfr/);

    const row = page.locator(`#workflows-table tr[data-run-id="${runId}"]`);
    await row.waitFor();
    const text = await row.textContent();
    assert.ok(text.includes('e2e graph') && text.includes('push') && text.includes('acme/widgets') &&
      text.includes(SHA.slice(0, 7)), text);
    assert.equal(await row.locator('[data-jobs-total]').textContent(), '0 / 5');
    await row.getByRole('link', {name: 'e2e graph'}).click();

    await page.locator('#run-name', {hasText: 'e2e graph'}).waitFor();
    assert.ok(page.url().includes(`#/workflows/${runId}`));
    await waitFor(async () => (await page.locator('#wf-graph .wf-node').count()) === 5, {what: '5 nodes'});
    const keys = await page.locator('#wf-graph .wf-node').evaluateAll((els) => els.map((e) => e.dataset.key).sort());
    assert.deepEqual(keys, ['build.1', 'build.2', 'deploy', 'lint', 'test']);
    const edges = await page.locator('#wf-graph path.wf-edge').evaluateAll((els) =>
      els.map((e) => `${e.dataset.from}>${e.dataset.to}`).sort());
    assert.deepEqual(edges, ['build>test', 'lint>deploy', 'test>deploy']);
    assert.equal(await page.locator('#wf-graph rect.wf-group').count(), 1, 'one frame: the matrix');
    // Columns by depth: build and lint, then test, then deploy; the combinations one above the other.
    const box = async (key) => node(key).boundingBox();
    const [b1, b2, lint, testNode, deploy] = await Promise.all(['build.1', 'build.2', 'lint', 'test', 'deploy'].map(box));
    assert.equal(b1.x, b2.x);
    assert.ok(b2.y > b1.y);
    assert.ok(lint.x < testNode.x && testNode.x < deploy.x, JSON.stringify({lint, testNode, deploy}));
    assert.match(await page.locator('#run-state').textContent(), /queued/);
    assert.match(await page.locator('#run-repo').textContent(), /acme\/widgets/);
    assert.ok(await page.locator('#wf-cancel').isVisible());
    assert.equal(await page.locator('#wf-rerun').isVisible(), false);
  });

  test('a runner runs it: states become succeeded, failed and skipped', async () => {
    const runner = await startRunner(server, 'wf-box', {labels: ['wf'], maxJobs: 3,
      env: {RUNNER_POLL_TIMEOUT_MS: '2000'}});
    const expected = {'build.1': 'succeeded', 'build.2': 'succeeded', test: 'succeeded', lint: 'failed', deploy: 'skipped'};
    for (const [key, state] of Object.entries(expected)) {
      await page.locator(`#wf-graph .wf-node[data-key="${key}"][data-state="${state}"]`).waitFor({timeout: 30000});
    }
    await page.locator('#run-state [data-state="failed"]').waitFor();
    assert.match(await node('build.2').textContent(), /build \(beta\)/);
    assert.match(await node('build.1').textContent(), /\d+(\.\d)? (ms|s)/, 'a node shows its duration');
    await page.locator('#wf-rerun').waitFor();
    assert.equal(await page.locator('#wf-cancel').isVisible(), false);
    assert.ok(runner.executor === 'docker' || !process.env.DOCKER_HOST, `executor ${runner.executor}`);
  });

  test('selecting a job lists its steps; a step opens on its own output', async () => {
    // The failed job is shown first.
    await page.locator('#wf-job-name', {hasText: 'lint'}).waitFor();
    assert.ok(page.url().includes(`#/workflows/${runId}`));
    await select('lint');
    assert.ok(page.url().endsWith('?job=lint'), page.url());
    assert.equal(await node('lint').getAttribute('aria-pressed'), 'true');
    const names = await page.locator('#wf-steps details.wf-step:not([data-step="setup"]) .wf-step-name').allTextContents();
    assert.deepEqual(names, ['1. Check style', '2. Break', '3. Never']);
    const states = await page.locator('#wf-steps details.wf-step:not([data-step="setup"])')
      .evaluateAll((els) => els.map((e) => e.dataset.state));
    assert.deepEqual(states, ['succeeded', 'failed', 'skipped']);
    assert.match(await step('Break').locator('.wf-step-exit').textContent(), /exit 3/);

    await step('Break').locator('summary').click();
    const breakLog = step('Break').locator('pre.wf-step-log');
    await breakLog.filter({hasText: 'lint found a problem'}).waitFor();
    const breakText = await breakLog.textContent();
    assert.ok(!breakText.includes('style is fine'), breakText);
    assert.match(breakText, /^==> \[2\/3\] Break/);
    await step('Check style').locator('summary').click();
    const styleText = await step('Check style').locator('pre.wf-step-log').filter({hasText: 'style is fine'}).textContent();
    assert.ok(!styleText.includes('lint found a problem') && !styleText.includes('never printed'), styleText);

    const jobId = (await server.get(`/api/v1/workflow-runs/${runId}`)).jobs.find((j) => j.key === 'lint').job_id;
    assert.equal(await page.locator('#wf-job-link').getAttribute('href'), `#/jobs/${jobId}`);

    // A matrix combination: its own variant's output.
    await select('build.2');
    await step('Compile beta').locator('summary').click();
    const compile = await step('Compile beta').locator('pre.wf-step-log').filter({hasText: 'compiling beta'}).textContent();
    assert.ok(!compile.includes('compiling alpha') && !compile.includes('packaged beta'), compile);

    // The skipped dependent: why, and no log.
    await select('deploy');
    assert.match(await page.locator('#wf-job-message').textContent(), /a job it needs did not succeed/);
    assert.equal(await page.locator('#wf-job-link').count(), 0);

    // The corral job's page links back to the run, at its workflow job.
    await page.goto(`${server.url}/#/jobs/${jobId}`);
    const back = page.locator('.crumbs a.workflow-run-link');
    await back.waitFor();
    await back.click();
    await page.locator('#wf-job-name', {hasText: 'lint'}).waitFor();
    assert.ok(page.url().endsWith(`#/workflows/${runId}?job=lint`), page.url());
  });

  test('Re-run failed jobs takes two clicks and starts attempt 2', async () => {
    const rerun = page.locator('#wf-rerun');
    await rerun.click();
    await page.locator('#wf-rerun[data-armed="true"]').waitFor();
    assert.equal((await server.get(`/api/v1/workflow-runs/${runId}`)).attempt, 1, 'one click changes nothing');
    await rerun.click();
    await page.locator('#run-attempt', {hasText: '2'}).waitFor();
    // lint fails again, and deploy is skipped again; the build is kept.
    await page.locator('#run-state [data-state="failed"]').waitFor({timeout: 30000});
    const run = await server.get(`/api/v1/workflow-runs/${runId}`);
    assert.equal(run.attempt, 2);
    assert.equal(run.jobs.find((j) => j.key === 'lint').state, 'failed');
  });

  test('a running job shows its step\'s output live, and Cancel (two clicks) cancels the run', async () => {
    const file = path.join(server.dir, 'slow.yml');
    writeFileSync(file, SLOW_WORKFLOW);
    const slowId = (await corral(server, ['workflow', 'run', file])).trim();
    await page.goto(`${server.url}/#/workflows`);
    await page.locator(`#workflows-table tr[data-run-id="${slowId}"]`).waitFor();
    const ids = await page.locator('#workflows-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.runId));
    assert.deepEqual(ids, [slowId, runId], 'newest first');

    await page.goto(`${server.url}/#/workflows/${slowId}`);
    await page.locator('#wf-graph .wf-node[data-key="wait"][data-state="running"]').waitFor({timeout: 20000});
    const sleep = step('Sleep');
    await sleep.locator('summary').click();
    await sleep.locator('pre.wf-step-log').filter({hasText: 'sleeping now'}).waitFor();
    assert.equal(await sleep.getAttribute('data-state'), 'running');
    assert.equal(await page.locator('#wf-rerun').isVisible(), false);

    const cancel = page.locator('#wf-cancel');
    await cancel.click();
    await page.locator('#wf-cancel[data-armed="true"]').waitFor();
    await cancel.click();
    await page.locator('#run-state [data-state="canceled"]').waitFor({timeout: 20000});
    await page.locator('#wf-graph .wf-node[data-key="wait"][data-state="canceled"]').waitFor();
    assert.equal(await cancel.isVisible(), false);
    await page.locator('#wf-rerun').waitFor();
  });

  test('past a page of runs the list offers Load more, which adds the older ones', async () => {
    // 50 more runs whose only job is skipped (if: false): they finish without a runner.
    const skipped = 'name: e2e skipped\non: push\njobs:\n  never:\n    if: false\n    runs-on: none\n    steps:\n      - run: echo\n';
    for (let i = 0; i < 50; ++i) {
      await server.request('POST', '/api/v1/workflow-runs', {body: {workflow: skipped}, expect: 201});
    }
    await page.goto(`${server.url}/#/workflows`);
    const rows = page.locator('#workflows-table tbody tr');
    await waitFor(async () => (await rows.count()) === 50, {what: 'a page of 50 runs'});
    assert.equal(await page.locator(`#workflows-table tr[data-run-id="${runId}"]`).count(), 0, 'the oldest is on page 2');
    await page.locator('#workflows-more').click();
    await waitFor(async () => (await rows.count()) === 52, {what: 'the 2 older runs added'});
    assert.equal(await page.locator(`#workflows-table tr[data-run-id="${runId}"]`).count(), 1);
    assert.equal(await page.locator('#workflows-more').count(), 0, 'no page after the last');
  });

  test('no script errors on the way', () => {
    assert.deepEqual(pageErrors, []);
  });
});

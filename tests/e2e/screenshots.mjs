// Saves a PNG of each dashboard page into docs/screenshots/ from a live server with real
// runners and jobs (succeeded, failed, running, queued ones waiting for a reason):
//
//   CORRAL_BINARY=build/corral node tests/e2e/screenshots.mjs
//
// Uses the Docker executor when DOCKER_HOST points at an engine with the test image
// (scripts/podman-service.sh + scripts/make-test-image.sh), else the shell executor.
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {Server, closeBrowser, corral, launchBrowser, repoRoot, signIn, startRunner, stopAll, waitFor}
  from './harness.mjs';

const outDir = path.join(repoRoot, 'docs/screenshots');
mkdirSync(outDir, {recursive: true});

const COLOURFUL = String.raw`printf '\033[1m==> go test ./...\033[0m\n'
for p in "api        0.412s" "store      1.208s" "scheduler  0.377s" "runner     2.940s" "cli        0.118s"; do
  echo "ok   corral/$p"; sleep 0.1
done
printf '\033[32mPASS\033[0m 5 packages, 214 tests\n'
printf '\033[33mwarning:\033[0m coverage of corral/cli fell to 71%%\n'
printf '\033[1;32m✔ all checks passed\033[0m\n'`;

// Monk CI's Node.js example, in the commands the test image has, with a failing lint job so
// the graph shows a skipped dependent.
const WORKFLOW = String.raw`name: Node.js CI
on: push
jobs:
  build:
    runs-on: [self-hosted, x64]
    strategy:
      matrix:
        node-version: [18.x, 20.x, 22.x]
    steps:
      - name: Use Node.js ${'$'}{{ matrix.node-version }}
        run: echo "node ${'$'}{{ matrix.node-version }}"
      - name: Install
        run: printf '\033[32madded 214 packages\033[0m in 2s\n'
      - name: Test
        run: echo "214 tests pass"
  lint:
    runs-on: x64
    steps:
      - name: Lint
        run: |
          echo "src/app.js:12:3 error 'x' is assigned a value but never used"
          exit 1
  package:
    needs: build
    runs-on: x64
    steps:
      - run: echo packaging
  deploy:
    needs: [package, lint]
    runs-on: x64
    steps:
      - run: echo deploying
`;

async function submit(server, name, script, extra = []) {
  return (await corral(server, ['submit', '--name', name, ...extra, '--script', script])).trim();
}

async function ended(server, id) {
  const job = await server.get(`/api/v1/jobs/${id}`);
  return ['succeeded', 'failed', 'canceled'].includes(job.state);
}

async function main() {
  const server = await Server.start({heartbeatTimeoutMs: 3000});
  const browser = await launchBrowser();
  try {
    await startRunner(server, 'build-box-1', {labels: ['linux', 'x64'], maxJobs: 2});
    await startRunner(server, 'arm-box', {labels: ['linux', 'arm64']});
    const lost = await startRunner(server, 'old-box', {labels: ['linux']});
    const {runners} = await server.get('/api/v1/runners');
    await server.request('POST', `/api/v1/runners/${runners.find((r) => r.name === 'arm-box').id}/drain`, {expect: 200});
    lost.kill('SIGKILL');

    const unit = await submit(server, 'unit-tests', COLOURFUL, ['--label', 'x64']);
    const lint = await submit(server, 'lint', String.raw`echo "src/cli/jobs.cpp:41: line too long"; printf '\033[31merror:\033[0m 1 problem\n'; exit 1`, ['--label', 'x64']);
    const build = await submit(server, 'build', 'echo building; echo done', ['--label', 'x64']);
    for (const id of [unit, lint, build]) await waitFor(() => ended(server, id), {timeout: 60000, what: `${id} to end`});
    const running = await submit(server, 'integration', 'for i in $(seq 1 60); do echo "step $i: checking claim $i"; sleep 1; done',
      ['--label', 'x64', '--priority', '10']);
    await submit(server, 'gpu-train', 'echo never', ['--label', 'gpu']);
    await submit(server, 'arm-release', 'echo later', ['--label', 'arm64']);
    await waitFor(async () => (await server.get(`/api/v1/jobs/${running}`)).state === 'running',
      {timeout: 30000, what: 'the integration job to run'});
    const workflowFile = path.join(server.dir, 'ci.yml');
    writeFileSync(workflowFile, WORKFLOW);
    const workflowRun = (await corral(server, ['workflow', 'run', workflowFile, '--event', 'push',
      '--repo', 'https://github.com/acme/widgets.git', '--ref', 'refs/heads/main',
      '--sha', '9fceb02d0ae598e95dc970b74767f19372d61af8'])).trim();
    await waitFor(async () => (await server.get('/api/v1/runners')).runners.some((r) => r.status === 'offline'),
      {timeout: 15000, what: 'old-box to go offline'});

    const page = await browser.newPage();
    const shot = async (name) => {
      await page.screenshot({path: path.join(outDir, `${name}.png`)});
      console.log(`screenshots: docs/screenshots/${name}.png`);
    };
    await page.goto(`${server.url}/#/signin`);
    await page.locator('#token').waitFor();
    await shot('signin');
    await signIn(page, server, server.adminToken);
    await page.goto(`${server.url}/#/overview`);
    await page.locator('#finished-chart, #stats-unavailable').first().waitFor();
    await shot('overview');
    await page.goto(`${server.url}/#/runners`);
    await page.locator('[data-status="offline"]').waitFor();
    await shot('runners');
    await page.goto(`${server.url}/#/queue`);
    await page.locator('.stat-value[data-count="queued"]').waitFor();
    await shot('queue');
    await page.goto(`${server.url}/#/jobs`);
    await page.locator('#jobs-table').waitFor();
    await shot('jobs');
    await page.goto(`${server.url}/#/jobs/${unit}`);
    await page.locator('#log-end[data-end-state]').waitFor();
    await shot('job');
    await page.goto(`${server.url}/#/jobs/${running}`);
    await waitFor(async () => (await page.locator('#log').textContent()).includes('step 3'), {what: 'the live log'});
    await shot('job-running');

    // The operator pages: a runner, Add runner with its commands, schedules, tokens.
    await server.request('POST', '/api/v1/schedules', {expect: 201, body: {name: 'nightly-refresh', cron: '0 2 * * *',
      timezone: 'Europe/Berlin', job: {script: './refresh.sh', labels: ['x64']}}});
    await server.request('POST', '/api/v1/schedules', {expect: 201, body: {name: 'hourly-sync', cron: '@hourly',
      job: {script: 'echo sync'}}});
    await server.request('POST', '/api/v1/schedules/hourly-sync/pause', {expect: 200, body: {}});
    await page.goto(`${server.url}/#/runners/${runners.find((r) => r.name === 'build-box-1').id}`);
    await page.locator('#runner-jobs-table').waitFor();
    await shot('runner');
    await page.goto(`${server.url}/#/runners`);
    await page.getByRole('button', {name: 'Add runner'}).click();
    await page.getByLabel('Runner name').fill('build-box-2');
    await page.getByLabel('Labels (optional, comma-separated)').fill('linux,x64');
    await page.getByRole('button', {name: 'Create registration token'}).click();
    await page.locator('#add-runner-command').waitFor();
    await shot('add-runner');
    await page.goto(`${server.url}/#/schedules`);
    await page.locator('#schedules-table').waitFor();
    await shot('schedules');
    await page.goto(`${server.url}/#/tokens`);
    await page.locator('#tokens-table').waitFor();
    await shot('tokens');
    await waitFor(async () => (await server.get(`/api/v1/workflow-runs/${workflowRun}`)).finished_at,
      {timeout: 60000, what: 'the workflow run to finish'});
    await page.goto(`${server.url}/#/workflows`);
    await page.locator('#workflows-table').waitFor();
    await shot('workflows');
    await page.goto(`${server.url}/#/workflows/${workflowRun}?job=build.2`);
    await page.locator('#wf-steps details[data-step="2"] summary').click();
    await page.locator('#wf-steps details[data-step="2"] pre').filter({hasText: 'added'}).waitFor();
    await page.setViewportSize({width: 1280, height: 1100});
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot('workflow-run');
    await page.setViewportSize({width: 1280, height: 800});

    await page.setViewportSize({width: 390, height: 844});
    await page.goto(`${server.url}/#/runners`);
    await page.locator('[data-status="offline"]').waitFor();
    await shot('phone-runners');
    await page.goto(`${server.url}/#/jobs/${unit}`);
    await page.locator('#log-end[data-end-state]').waitFor();
    await shot('phone-job');
    await page.goto(`${server.url}/#/workflows/${workflowRun}?job=lint`);
    await page.locator('#wf-steps details[data-step="1"] summary').click();
    await page.locator('#wf-steps details[data-step="1"] pre').filter({hasText: 'never used'}).waitFor();
    await page.locator('#wf-job').scrollIntoViewIfNeeded();
    await shot('phone-workflow-run');
  } finally {
    await closeBrowser(browser);
    await stopAll();
    server.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

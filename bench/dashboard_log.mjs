// How long the dashboard takes to show a finished job's large log, beside reading the same
// log over the API in the same run (the baseline): the page's own cost is the difference.
//
//   node bench/dashboard_log.mjs [--lines N] [--runs R]
//
// Needs the build (CORRAL_BINARY, default build/corral), Debian's chromium and
// `npm ci --prefix tests/e2e` (playwright-core). Starts a server and a shell-executor runner
// on 127.0.0.1, runs `seq 1 N` (default 320000: ~2.1 MB), then R times: GET the log over the
// API, and open the job page until the end of the log is shown.
import {parseArgs} from 'node:util';
import {Server, startRunner, corral, waitFor, stopAll, launchBrowser, closeBrowser, signIn} from
  '../tests/e2e/harness.mjs';

const {values} = parseArgs({options: {lines: {type: 'string', default: '320000'},
  runs: {type: 'string', default: '3'}}});
const lines = Number(values.lines);
const runs = Number(values.runs);

delete process.env.DOCKER_HOST;  // the shell executor: the job's own run time is not measured
const server = await Server.start();
let context;
try {
  await startRunner(server, 'bench');
  const id = (await corral(server, ['submit', '--name', 'big-log', '--script', `seq 1 ${lines}`])).trim();
  await waitFor(async () => (await server.get(`/api/v1/jobs/${id}`)).state === 'succeeded',
    {timeout: 120000, what: 'the job to finish'});
  context = await launchBrowser();
  const page = context.pages()[0] ?? await context.newPage();
  await signIn(page, server, server.adminToken);
  const last = `${lines}\n`;
  for (let run = 1; run <= runs; run += 1) {
    let t0 = performance.now();
    const response = await fetch(`${server.url}/api/v1/jobs/${id}/logs`,
      {headers: {authorization: `Bearer ${server.adminToken}`}});
    const text = await response.text();
    const api = performance.now() - t0;
    if (!text.endsWith(last)) throw new Error(`the API's log does not end with ${last.trim()}`);

    await page.goto(`${server.url}/#/`);
    await page.locator('nav.nav').waitFor();
    t0 = performance.now();
    await page.goto(`${server.url}/#/jobs/${id}`);
    await page.locator('#log-end[data-end-state="succeeded"]').waitFor({timeout: 120000});
    await page.waitForFunction((end) => document.querySelector('#log').textContent.endsWith(end), last);
    const shown = performance.now() - t0;
    console.log(`run ${run}: ${(text.length / 1e6).toFixed(2)} MB log; API ${api.toFixed(0)} ms, ` +
      `page ${shown.toFixed(0)} ms, page / API ${(shown / api).toFixed(1)}`);
  }
} finally {
  if (context) await closeBrowser(context);
  await stopAll();
}

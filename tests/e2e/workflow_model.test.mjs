// The workflow pages' model (web/assets/workflow_model.js), no browser: the graph's columns
// and edges, a log cut into step sections, and the steps shown while a job runs.
import assert from 'node:assert/strict';
import {describe, test} from 'node:test';

import {canRerunFailed, layoutGraph, repoLabel, stepRows, stepSections} from '../../web/assets/workflow_model.js';

const job = (key, job, needs = [], state = 'pending', extra = {}) => ({key, job, name: key, needs, state, steps: [], ...extra});

describe('layoutGraph', () => {
  test('columns by depth of needs, matrix combinations stacked, one edge per need', () => {
    const layout = layoutGraph([
      job('build.1', 'build'), job('build.2', 'build'),
      job('lint', 'lint'),
      job('test', 'test', ['build']),
      job('deploy', 'deploy', ['test', 'lint']),
    ]);
    const column = Object.fromEntries(layout.groups.map((g) => [g.id, g.column]));
    assert.deepEqual(column, {build: 0, lint: 0, test: 1, deploy: 2});
    assert.equal(layout.nodes.length, 5);
    assert.deepEqual(layout.edges.map((e) => `${e.from}>${e.to}`), ['build>test', 'test>deploy', 'lint>deploy']);
    const [b1, b2] = layout.nodes.filter((n) => n.group === 'build');
    assert.equal(b1.x, b2.x);
    assert.ok(b2.y >= b1.y + b1.height, 'the combinations are stacked');
    const build = layout.groups.find((g) => g.id === 'build');
    assert.ok(build.matrix && b1.y > build.y && b2.y + b2.height < build.y + build.height, 'inside their frame');
    for (const n of layout.nodes) {
      assert.ok(n.x + n.width <= layout.width && n.y + n.height <= layout.height, `node ${n.entry.key} inside`);
    }
  });

  test('a matrix with one combination is still a group; unknown needs and cycles do not hang', () => {
    const layout = layoutGraph([job('a.1', 'a'), job('b', 'b', ['c', 'ghost']), job('c', 'c', ['b'])]);
    assert.equal(layout.groups.find((g) => g.id === 'a').matrix, true);
    assert.equal(layout.nodes.length, 3);
    assert.equal(layout.edges.filter((e) => e.from === 'ghost').length, 0);
  });

  test('an empty run has an empty graph', () => {
    const layout = layoutGraph([]);
    assert.deepEqual([layout.nodes.length, layout.edges.length, layout.width], [0, 0, 0]);
  });
});

const LOG = [
  'pulling image',
  '==> [1/3] Greet',
  'hello from greet',
  '<== [1/3] Greet: success in 0.2 s',
  '==> [2/3] Break: now',
  'about to fail',
  '==> [9/9] fake marker printed by the step',
  '<== [2/3] Break: now: failure (exit code 3) in 1.5 s',
  '==> [3/3] After (skipped: an earlier step failed)',
  '',
].join('\n');

describe('stepSections', () => {
  test('cuts the log at the step markers; each section ends where the next starts', () => {
    const {preamble, sections} = stepSections(LOG);
    assert.equal(preamble, 'pulling image\n');
    assert.deepEqual(sections.map((s) => s.name), ['Greet', 'Break: now', 'After']);
    assert.match(sections[0].text, /^==> \[1\/3\] Greet\nhello from greet\n<== /);
    assert.ok(!sections[0].text.includes('about to fail'));
    assert.ok(sections[1].text.includes('fake marker'), 'an unexpected marker stays in its step');
    assert.deepEqual(sections[1].result, {outcome: 'failure', failure: 'exit code 3', seconds: 1.5});
    assert.equal(sections[2].skipped, 'an earlier step failed');
    assert.equal(sections[2].result.outcome, 'skipped');
    assert.equal(sections.map((s) => s.text).join(''), LOG.slice(preamble.length));
  });

  test('a log without markers is all preamble', () => {
    assert.deepEqual(stepSections('just output\n'), {preamble: 'just output\n', sections: []});
  });
});

describe('stepRows', () => {
  const steps = ['Greet', 'Break: now', 'After'].map((name) => ({name, state: 'pending'}));
  test('while the job runs, the log tells which steps ended and which runs', () => {
    const partial = LOG.slice(0, LOG.indexOf('<== [2/3]'));
    const rows = stepRows(job('j', 'j', [], 'running', {steps}), partial);
    assert.deepEqual(rows.map((r) => r.state), ['succeeded', 'running', 'pending']);
    assert.equal(rows[0].durationMs, 200);
  });

  test('once the job ended, the API\'s steps are the truth', () => {
    const ended = [
      {name: 'Greet', state: 'succeeded', exit_code: 0, started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:01Z'},
      {name: 'Break: now', state: 'failed', exit_code: 3, message: 'exit code 3'},
      {name: 'After', state: 'skipped'},
    ];
    const rows = stepRows(job('j', 'j', [], 'failed', {steps: ended}), LOG);
    assert.deepEqual(rows.map((r) => [r.state, r.exitCode]), [['succeeded', 0], ['failed', 3], ['skipped', null]]);
    assert.equal(rows[0].durationMs, 1000);
    assert.equal(rows[1].message, 'exit code 3');
    assert.match(rows[1].section.text, /about to fail/);
  });
});

test('repoLabel names a repository as the server does', () => {
  assert.equal(repoLabel({url: 'https://github.com/acme/app.git'}), 'acme/app');
  assert.equal(repoLabel({url: 'git@github.com:acme/app.git'}), 'acme/app');
  assert.equal(repoLabel({url: 'file:///srv/git/app.git/'}), 'git/app');
  assert.equal(repoLabel(null), null);
});

test('Re-run failed jobs is offered for a finished run with a failed or canceled job', () => {
  assert.equal(canRerunFailed({state: 'failed', jobs: [{state: 'failed'}]}), true);
  assert.equal(canRerunFailed({state: 'running', jobs: [{state: 'failed'}]}), false);
  assert.equal(canRerunFailed({state: 'succeeded', jobs: [{state: 'succeeded'}, {state: 'skipped'}]}), false);
});

// What the workflow pages compute from a run (GET /api/v1/workflow-runs/{id}), without the
// DOM, so node:test checks it too (tests/e2e/workflow_model.test.mjs):
//
// - layoutGraph: the job graph. Each workflow job (`job`) is a group; a matrix job's
//   combinations are stacked inside its group. Groups stand in columns by the depth of their
//   `needs` (a job needing nothing in column 0, else one right of its deepest need), and one
//   edge joins each needed job to each job that needs it (job to job, not combination to
//   combination: a 4 x 4 matrix pair is one edge, as on GitHub).
//
//       column 0            column 1
//     +- build ------+
//     | build (1)    |-----> test
//     | build (2)    |
//     +--------------+
//       lint  -------------> deploy
//
// - stepSections: a job's log cut at the runner's step markers (runner/workflow_steps.h):
//     ==> [2/4] Build                       (or "==> [2/4] Build (skipped: why)")
//     ...the step's output...
//     <== [2/4] Build: success in 1.4 s     (or ": failure (exit code 3) in 0.2 s")
//   A step's section runs from its "==>" line to the next "==>" (the last one to the end).
// - stepRows: the steps to show, from the API's steps (filled in when the job ends) and, while
//   it runs, what the log's markers say so far.

export const JOB_ENDED_STATES = new Set(['succeeded', 'failed', 'canceled', 'skipped']);
export const RUN_ENDED_STATES = new Set(['succeeded', 'failed', 'canceled']);

// The graph's geometry in CSS pixels (style.css .wf-graph draws nodes of this size).
export const GEOMETRY = {
  nodeWidth: 220, nodeHeight: 56, nodeGap: 8,  // combinations stacked in a matrix group
  groupHeader: 26, groupPad: 8,               // a matrix group's title and inner margin
  columnGap: 64, rowGap: 20, margin: 4,
};

// A workflow job is a matrix when its keys carry an index ("build.1"), even with one
// combination left.
function isMatrix(entries) {
  return entries.length > 1 || entries[0].key !== entries[0].job;
}

export function layoutGraph(jobs, geometry = GEOMETRY) {
  const g = geometry;
  const groups = [];
  const byId = new Map();
  for (const entry of jobs ?? []) {
    let group = byId.get(entry.job);
    if (!group) {
      group = {id: entry.job, needs: [], entries: []};
      byId.set(entry.job, group);
      groups.push(group);
    }
    group.entries.push(entry);
    for (const need of entry.needs ?? []) {
      if (!group.needs.includes(need)) group.needs.push(need);
    }
  }
  for (const group of groups) {
    group.needs = group.needs.filter((n) => byId.has(n) && n !== group.id);
    group.matrix = isMatrix(group.entries);
  }

  // Depth by needs; the server refuses cycles, but a cycle here must not hang the page.
  const depthOf = new Map();
  const depth = (group, visiting = new Set()) => {
    if (depthOf.has(group.id)) return depthOf.get(group.id);
    if (visiting.has(group.id)) return 0;
    visiting.add(group.id);
    const d = group.needs.length ? 1 + Math.max(...group.needs.map((n) => depth(byId.get(n), visiting))) : 0;
    visiting.delete(group.id);
    depthOf.set(group.id, d);
    return d;
  };
  const columns = [];
  for (const group of groups) {
    group.column = depth(group);
    (columns[group.column] ??= []).push(group);
  }

  // Within a column, groups follow the mean row of what they need (fewer crossings), then
  // the workflow's order.
  const rowOf = new Map();
  columns.forEach((column = [], c) => {
    if (c > 0) {
      const weight = (group) => group.needs.reduce((sum, n) => sum + (rowOf.get(n) ?? 0), 0) / group.needs.length;
      column.forEach((group, i) => {
        group.order = i;
      });
      column.sort((a, b) => weight(a) - weight(b) || a.order - b.order);
    }
    column.forEach((group, i) => rowOf.set(group.id, i));
  });

  const nodes = [];
  let height = 0;
  columns.forEach((column = [], c) => {
    let y = g.margin;
    const x = g.margin + c * (g.nodeWidth + g.columnGap);
    for (const group of column) {
      group.x = x;
      group.y = y;
      if (group.matrix) {
        const n = group.entries.length;
        group.width = g.nodeWidth;
        group.height = g.groupHeader + n * g.nodeHeight + (n - 1) * g.nodeGap + g.groupPad;
        group.entries.forEach((entry, i) => {
          nodes.push({entry, group: group.id, x: x + g.groupPad, y: y + g.groupHeader + i * (g.nodeHeight + g.nodeGap),
            width: g.nodeWidth - 2 * g.groupPad, height: g.nodeHeight});
        });
      } else {
        group.width = g.nodeWidth;
        group.height = g.nodeHeight;
        nodes.push({entry: group.entries[0], group: group.id, x, y, width: g.nodeWidth, height: g.nodeHeight});
      }
      y += group.height + g.rowGap;
    }
    height = Math.max(height, y - g.rowGap + g.margin);
  });

  const edges = [];
  for (const group of groups) {
    for (const need of group.needs) {
      const from = byId.get(need);
      const x1 = from.x + from.width;
      const y1 = from.y + from.height / 2;
      const x2 = group.x;
      const y2 = group.y + group.height / 2;
      const bend = Math.max(g.columnGap / 2, (x2 - x1) / 3);
      edges.push({from: need, to: group.id,
        d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`});
    }
  }
  const width = columns.length ? 2 * g.margin + columns.length * g.nodeWidth + (columns.length - 1) * g.columnGap : 0;
  return {groups, columns, nodes, edges, width, height};
}

const START_MARK = /==> \[(\d+)\/(\d+)\] ([^\n]*)/g;

// The log's step sections, in order: {index (1-based), total, name, skipped (the reason, or
// null), start, end (character offsets in text), text, result}. result is null until the
// step's "<==" line is in the log, then {outcome: success|failure|cancelled|skipped,
// seconds, failure}. preamble is what comes before the first step (setting up the job).
// A marker counts only as the next one expected ([1/n], [2/n], ...), so a step that prints
// "==> [9/9]" does not cut the log.
export function stepSections(text) {
  const sections = [];
  let total = null;
  START_MARK.lastIndex = 0;
  for (let m = START_MARK.exec(text); m; m = START_MARK.exec(text)) {
    const index = Number(m[1]);
    const n = Number(m[2]);
    if (index !== sections.length + 1 || (total !== null && n !== total) || index > n) continue;
    total = n;
    const skipped = m[3].match(/^(.*) \(skipped: (.*)\)$/);
    sections.push({index, total: n, name: skipped ? skipped[1] : m[3], skipped: skipped ? skipped[2] : null,
      start: m.index, end: text.length, text: '', result: null});
  }
  sections.forEach((section, i) => {
    if (i + 1 < sections.length) section.end = sections[i + 1].start;
    section.text = text.slice(section.start, section.end);
    const endMark = `<== [${section.index}/${section.total}] ${section.name}: `;
    const at = section.text.lastIndexOf(endMark);
    if (at !== -1) {
      const line = section.text.slice(at + endMark.length).split('\n', 1)[0];
      const m = line.match(/^(\w+)(?: \((.*)\))? in ([\d.]+) s$/);
      if (m) section.result = {outcome: m[1], failure: m[2] ?? null, seconds: Number(m[3])};
    }
    if (section.skipped) section.result = {outcome: 'skipped', failure: null, seconds: 0};
  });
  return {preamble: sections.length ? text.slice(0, sections[0].start) : text, sections};
}

const OUTCOME_STATES = {success: 'succeeded', failure: 'failed', cancelled: 'canceled', skipped: 'skipped'};

function ms(text) {
  const t = text ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? null : t;
}

// The steps of a workflow job as the page lists them: {index, name, state, durationMs,
// exitCode, message, section}. The API's steps are the truth once the job has ended; while
// it runs they are all "pending", and the log's markers tell which step runs and how the
// earlier ones ended.
export function stepRows(job, logText) {
  const {sections} = stepSections(logText ?? '');
  const steps = job.steps ?? [];
  const count = Math.max(steps.length, sections.length);
  const running = job.state === 'running';
  const rows = [];
  for (let i = 0; i < count; i++) {
    const step = steps[i] ?? {};
    const section = sections[i] ?? null;
    let state = step.state ?? 'pending';
    let durationMs = null;
    const started = ms(step.started_at);
    const finished = ms(step.finished_at);
    if (started && finished) durationMs = finished - started;
    if (state === 'pending' && section) {
      if (section.result) {
        state = OUTCOME_STATES[section.result.outcome] ?? section.result.outcome;
        durationMs = section.result.seconds * 1000;
      } else if (running) {
        state = 'running';
      }
    }
    rows.push({index: i + 1, name: step.name ?? section?.name ?? `step ${i + 1}`, state, durationMs,
      exitCode: step.exit_code ?? null, message: step.message ?? section?.result?.failure ?? section?.skipped ?? null,
      section});
  }
  return rows;
}

// "owner/name" of a run's repository (the URL's last two parts, as the server names
// github.repository), or null for a run without one.
export function repoLabel(repo) {
  if (!repo || typeof repo !== 'object' || !repo.url) return null;
  const path = String(repo.url).replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^@/]*@/, '').replace(':', '/')
    .replace(/\/+$/, '').replace(/\.git$/, '');
  const parts = path.split('/').filter(Boolean);
  return parts.length > 1 ? parts.slice(-2).join('/') : (parts[0] ?? repo.url);
}

export function shortSha(sha) {
  return sha ? String(sha).slice(0, 7) : null;
}

// {done, total} workflow jobs (skipped ones are done).
export function jobProgress(run) {
  const jobs = run.jobs ?? [];
  return {done: jobs.filter((j) => JOB_ENDED_STATES.has(j.state)).length, total: jobs.length};
}

// From created to finished (or now while unfinished); null without a start.
export function runDurationMs(run, now = Date.now()) {
  const created = ms(run.created_at);
  if (!created) return null;
  return (ms(run.finished_at) ?? now) - created;
}

export function jobDurationMs(job, now = Date.now()) {
  const started = ms(job.started_at);
  if (!started) return null;
  return (ms(job.finished_at) ?? (JOB_ENDED_STATES.has(job.state) ? started : now)) - started;
}

// A finished run with a failed or canceled job: what "Re-run failed jobs" is for.
export function canRerunFailed(run) {
  return RUN_ENDED_STATES.has(run.state) && (run.jobs ?? []).some((j) => j.state === 'failed' || j.state === 'canceled');
}

// Workflow runs (#/workflows): newest first, re-read every 2 s; each run opens its page
// (#/workflows/{id}) with the job graph and the steps' logs.
import {ApiError, api} from '../api.js';
import {agoElement, clear, formatDuration, h, notice, parseTime, statePill, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';
import {jobProgress, repoLabel, runDurationMs, shortSha} from '../workflow_model.js';

const LIMIT = 50;

// The repository's name over its ref and short sha (withSha false: the run page shows the
// commit on its own).
export function repoCell(repo, {withSha = true} = {}) {
  const name = repoLabel(repo);
  if (!name) return h('span', {class: 'muted'}, '—');
  const sha = withSha ? shortSha(repo.sha) : null;
  return h('span', {class: 'wf-repo'}, h('span', {title: repo.url}, name),
    repo.ref ? h('span', {class: 'sub mono'}, repo.ref.replace(/^refs\/(heads|tags)\//, '')) : null,
    sha ? h('span', {class: 'sub mono', title: repo.sha}, sha) : null);
}

function row(run) {
  const {done, total} = jobProgress(run);
  return h('tr', {dataset: {runId: run.id, state: run.state}},
    h('td', {class: 'name'}, h('a', {href: `#/workflows/${encodeURIComponent(run.id)}`}, run.name || run.id),
      h('div', {class: 'sub mono'}, run.id, run.attempt > 1 ? ` · attempt ${run.attempt}` : '')),
    h('td', {}, statePill(run.state)),
    h('td', {class: 'mono'}, run.event || '—'),
    h('td', {}, repoCell(run.repo)),
    h('td', {class: 'num nowrap', dataset: {jobsDone: String(done), jobsTotal: String(total)}}, `${done} / ${total}`),
    h('td', {class: 'nowrap'}, agoElement(parseTime(run.created_at))),
    h('td', {class: 'num nowrap'}, formatDuration(runDurationMs(run))));
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading workflow runs…'));
  const more = h('div', {class: 'more'});
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Workflows'),
    h('div', {class: 'head-actions'}, h('span', {class: 'live'}, h('span', {class: 'live-dot'}), 'live'))),
  status, body, more);
  let runs = [];
  let cursor = null;       // next_cursor of the last page shown
  let extraPages = false;  // once the user loads more, the list stops refreshing itself
  let hadData = false;

  const render = () => {
    clear(body);
    clear(more);
    if (runs.length === 0) {
      body.append(h('div', {class: 'empty', id: 'workflows-empty'},
        h('p', {}, 'No workflow run yet.'),
        h('p', {class: 'muted'}, 'Start one from a GitHub-Actions-style file with ',
          h('code', {}, 'corral workflow run FILE'), ' (add ', h('code', {}, '--repo URL --sha SHA'),
          ' to check out a repository), or let a repository\'s pushes start them (docs/workflows.md).')));
      return;
    }
    body.append(tableWrap(h('table', {class: 'table', id: 'workflows-table'},
      tableHead(['Run', 'State', 'Event', 'Repository', 'Jobs', 'Created', 'Duration'], ['Jobs', 'Duration']),
      h('tbody', {}, runs.map(row)))));
    if (cursor) {
      more.append(h('button', {class: 'btn', type: 'button', id: 'workflows-more', onclick: () => loadMore()},
        'Load more'));
    }
  };

  const loadMore = async () => {
    extraPages = true;
    try {
      const page = await api.workflowRuns(LIMIT, cursor);
      runs = runs.concat(page.runs);
      cursor = page.next_cursor;
      render();
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  };

  return poll(async () => {
    if (extraPages) return;
    try {
      const page = await api.workflowRuns(LIMIT);
      hadData = true;
      showLoadError(status, null);
      runs = page.runs;
      cursor = page.next_cursor || null;
      render();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && !hadData) {
        clear(status);
        clear(body).append(notice('info', 'This server has no workflow runs (GET /api/v1/workflow-runs answered 404): ',
          'it is older than this dashboard.'));
        return;
      }
      showLoadError(status, e, {hadData});
    }
  }, 2000);
}

// Jobs: newest first, filtered by state, label and runner (the filters live in the URL:
// #/jobs?state=failed&label=linux&runner=box-1, so a filtered view can be shared).
//
// The label and runner filters are sent to the server, and applied again here on each
// page of results, so a server that does not filter by them yet still shows only matches.
import {api} from '../api.js';
import {agoElement, clear, formatDuration, h, labelChips, parseTime, statePill, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

const STATES = ['queued', 'leased', 'running', 'succeeded', 'failed', 'canceled'];
const PAGE = 50;

function latestAttempt(job) {
  const attempts = job.attempts ?? [];
  return attempts.length ? attempts[attempts.length - 1] : null;
}

function matches(job, {label, runner}) {
  if (label && !(job.labels ?? []).includes(label)) return false;
  if (runner && !(job.attempts ?? []).some((a) => a.runner_name === runner || a.runner_id === runner)) return false;
  return true;
}

function row(job) {
  const attempt = latestAttempt(job);
  const started = parseTime(job.started_at);
  const finished = parseTime(job.finished_at);
  const href = `#/jobs/${encodeURIComponent(job.id)}`;
  return h('tr', {dataset: {jobId: job.id}},
    h('td', {class: 'name'}, h('a', {href}, job.name || job.id), h('div', {class: 'sub mono'}, job.id)),
    h('td', {}, statePill(job.state)),
    h('td', {}, labelChips(job.labels)),
    h('td', {}, attempt?.runner_name || h('span', {class: 'muted'}, '—')),
    h('td', {class: 'num'}, `${job.attempt ?? 0} / ${job.max_attempts ?? '?'}`),
    h('td', {class: 'nowrap'}, agoElement(parseTime(job.created_at))),
    h('td', {class: 'num nowrap'}, started ? formatDuration((finished ?? Date.now()) - started) : '—'));
}

function filterForm(query) {
  const state = h('select', {name: 'state', id: 'filter-state'},
    h('option', {value: ''}, 'any state'),
    STATES.map((s) => h('option', {value: s, selected: query.state === s}, s)));
  const label = h('input', {name: 'label', id: 'filter-label', placeholder: 'label', value: query.label ?? ''});
  const runner = h('input', {name: 'runner', id: 'filter-runner', placeholder: 'runner name or id',
    value: query.runner ?? ''});
  const submit = () => {
    const next = new URLSearchParams();
    for (const [k, el] of [['state', state], ['label', label], ['runner', runner]]) {
      if (el.value.trim()) next.set(k, el.value.trim());
    }
    const text = next.toString();
    location.hash = text ? `#/jobs?${text}` : '#/jobs';
  };
  state.addEventListener('change', submit);
  return h('form', {class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    submit();
  }}, state, label, runner,
  h('button', {class: 'btn', type: 'submit'}, 'Filter'),
  (query.state || query.label || query.runner) ? h('a', {class: 'btn btn-ghost', href: '#/jobs'}, 'Clear') : null);
}

export function mount(container, {query}) {
  const filters = {state: query.state || '', label: query.label || '', runner: query.runner || ''};
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading jobs…'));
  const more = h('div', {class: 'more'});
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Jobs')), filterForm(query), status, body, more);

  let jobs = [];
  let scanned = 0;        // jobs the server returned, before our own filtering
  let cursor = null;
  let extraPages = false;  // once the user loads more, the list stops refreshing itself
  let hadData = false;

  const render = () => {
    clear(body);
    if (jobs.length === 0) {
      body.append(h('div', {class: 'empty'}, h('p', {}, scanned === 0 && !filters.state && !filters.label && !filters.runner
        ? 'No jobs yet. Submit one with corral submit -- sh -c \'echo hello\'.'
        : 'No job matches these filters.')));
    } else {
      body.append(tableWrap(h('table', {class: 'table', id: 'jobs-table'},
        tableHead(['Job', 'State', 'Labels', 'Runner', 'Attempt', 'Created', 'Run time'], ['Attempt', 'Run time']),
        h('tbody', {}, jobs.map(row)))));
    }
    clear(more);
    if (cursor) {
      more.append(h('button', {class: 'btn', type: 'button', onclick: () => loadMore()}, 'Load more'),
        scanned > jobs.length ? h('span', {class: 'muted'}, ` ${scanned - jobs.length} older jobs on these pages did not match`) : null);
    }
  };

  const fetchPage = async (from) => {
    const page = await api.jobs({...filters, limit: PAGE, cursor: from});
    return {matching: page.jobs.filter((j) => matches(j, filters)), scanned: page.jobs.length, next: page.next_cursor};
  };

  const loadMore = async () => {
    extraPages = true;
    try {
      const page = await fetchPage(cursor);
      jobs = jobs.concat(page.matching);
      scanned += page.scanned;
      cursor = page.next;
      render();
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  };

  return poll(async () => {
    if (extraPages) return;
    try {
      const page = await fetchPage(null);
      hadData = true;
      showLoadError(status, null);
      jobs = page.matching;
      scanned = page.scanned;
      cursor = page.next;
      render();
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  }, 3000);
}

// Runners: every runner of the tenant with its status, labels, load and last heartbeat,
// re-read every 2 s; "12 s ago" ticks every second between reads. Each name opens the
// runner's page (#/runners/{id}); admins get "Add runner" (add_runner.js).
import {addRunnerPanel} from '../add_runner.js';
import {api, isAdmin} from '../api.js';
import {agoElement, clear, formatBytes, h, labelChips, parseTime, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

const STATUSES = ['idle', 'busy', 'draining', 'offline'];

function summary(runners) {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of runners) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return h('div', {class: 'stat-row'}, STATUSES.map((s) =>
    h('div', {class: `stat stat-${s}`},
      h('div', {class: 'stat-value', 'data-count': s}, String(counts[s])),
      h('div', {class: 'stat-label'}, h('span', {class: `dot status-${s}`}), s))));
}

// The runner's warm containers (DOCKER_POOL_SIZE, docs/runner.md), as its heartbeat reports
// them: how many are ready of how many it keeps.
function poolLine(pool) {
  if (!pool || !(pool.size > 0)) return null;
  const ready = Number(pool.ready ?? 0);
  return h('div', {class: `sub pool${ready < pool.size ? ' muted' : ''}`, 'data-pool-ready': String(ready),
    title: 'warm containers ready for a job (DOCKER_POOL_SIZE)'}, `pool ${ready}/${pool.size} ready`);
}

function row(r) {
  return h('tr', {dataset: {runnerName: r.name, runnerId: r.id}},
    h('td', {class: 'name'}, h('a', {href: `#/runners/${encodeURIComponent(r.id)}`, class: 'runner-link'}, r.name),
      h('div', {class: 'sub mono'}, r.id)),
    h('td', {}, h('span', {class: `pill status-${r.status}`, 'data-status': r.status}, r.status)),
    h('td', {}, labelChips(r.labels)),
    h('td', {}, r.group || h('span', {class: 'muted'}, 'any')),
    h('td', {class: 'num'}, h('span', {class: 'jobs-count'}, `${r.running_jobs ?? 0} / ${r.max_concurrent_jobs ?? '?'}`),
      poolLine(r.usage?.pool),
      (r.running ?? []).map((a) => h('div', {class: 'sub mono'},
        h('a', {href: `#/jobs/${encodeURIComponent(a.job_id)}`, title: `${a.job_id}, attempt ${a.attempt}`},
          a.job_id.length > 14 ? `${a.job_id.slice(0, 12)}…` : a.job_id)))),
    h('td', {class: 'nowrap'}, agoElement(parseTime(r.last_heartbeat_at))),
    h('td', {class: 'num'}, r.system?.cpus ? String(r.system.cpus) : '—'),
    h('td', {class: 'num nowrap'}, formatBytes(r.system?.memory_bytes)),
    h('td', {class: 'mono'}, r.version || '—'));
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading runners…'));
  const add = addRunnerPanel();
  const actions = h('div', {class: 'head-actions'}, h('span', {class: 'live'}, h('span', {class: 'live-dot'}), 'live'));
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Runners'), actions), status, add.panel, body);
  isAdmin().then((admin) => {
    if (admin) {
      actions.append(h('button', {class: 'btn btn-primary', type: 'button', id: 'add-runner-open',
        'aria-controls': 'add-runner', onclick: add.open}, 'Add runner'));
    }
  });
  let hadData = false;
  return poll(async () => {
    try {
      const {runners} = await api.runners();
      hadData = true;
      showLoadError(status, null);
      clear(body);
      body.append(summary(runners));
      if (runners.length === 0) {
        body.append(h('div', {class: 'empty'}, h('p', {}, 'No runner has registered yet.'),
          h('p', {class: 'muted'}, 'An admin can use Add runner above, or make a registration token with ',
            h('code', {}, 'corral tokens create --kind runner --name box-1'),
            ' and start ', h('code', {}, 'corral runner'), ' on a host (see docs/runner.md).')));
        return;
      }
      const sorted = [...runners].sort((a, b) =>
        STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status) || a.name.localeCompare(b.name));
      body.append(tableWrap(h('table', {class: 'table', id: 'runners-table'},
        tableHead(['Name', 'Status', 'Labels', 'Group', 'Jobs', 'Last heartbeat', 'CPUs', 'Memory', 'Version'],
          ['Jobs', 'CPUs', 'Memory']),
        h('tbody', {}, sorted.map(row)))));
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  }, 2000);
}

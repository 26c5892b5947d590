// One runner (#/runners/{id}): what it is (status, labels, group, version, description), the
// host it runs on (system) and what it can do (capabilities), both as it reported them when
// it registered; its usage from the last heartbeat and over the last day (the server keeps a
// sample a minute: GET /api/v1/runners/{id}/usage); its recent jobs; and for admins drain/resume and the remote commands
// (GET/POST /api/v1/runners/{id}/commands; a server without them answers 404 and the
// section stays hidden). Re-read every 2 s.
import {ApiError, api, isAdmin} from '../api.js';
import {agoElement, clear, confirmButton, formatBytes, formatDateTime, formatDuration, h, labelChips, notice,
  parseTime, statePill, svg, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

const RECENT_JOBS = 20;
const HISTORY_HOURS = 24;
const HISTORY_EVERY_MS = 60_000;  // the server adds a sample a minute

function fact(term, value, id) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {id}, value ?? '—'));
}

function statusPill(status) {
  return h('span', {class: `pill status-${status}`, 'data-status': status}, status);
}

function text(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

function summaryFacts(r) {
  return h('dl', {class: 'facts'},
    fact('Status', statusPill(r.status), 'runner-status'),
    fact('Labels', labelChips(r.labels)),
    fact('Group', r.group || 'any'),
    fact('Version', h('span', {class: 'mono'}, text(r.version)), 'runner-version'),
    fact('Jobs', `${r.running_jobs ?? 0} / ${r.max_concurrent_jobs ?? '?'}`, 'runner-jobs'),
    fact('Modes', (r.modes ?? []).length ? r.modes.join(', ') : '—'),
    fact('Owner only', text(r.owner_only)),
    fact('Last heartbeat', agoElement(parseTime(r.last_heartbeat_at))),
    fact('Registered', formatDateTime(parseTime(r.registered_at))),
    fact('Description', r.description || '—', 'runner-description'));
}

function systemFacts(system = {}) {
  return h('dl', {class: 'facts', id: 'runner-system'},
    fact('Hostname', h('span', {class: 'mono'}, text(system.hostname)), 'system-hostname'),
    fact('CPUs', system.cpus ? String(system.cpus) : '—', 'system-cpus'),
    fact('Memory', formatBytes(system.memory_bytes), 'system-memory'),
    fact('Disk', formatBytes(system.disk_bytes), 'system-disk'));
}

// A capability as one line: the engine as "podman 4.3.1 (API 1.41)", yes/no for flags, other
// objects as key=value pairs.
function capabilityValue(value) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if (value.name || value.version) {
      return [value.name, value.version, value.api_version ? `(API ${value.api_version})` : null]
        .filter(Boolean).join(' ');
    }
    const pairs = Object.entries(value).filter(([, v]) => v !== null && v !== undefined && v !== '' &&
      !(Array.isArray(v) && v.length === 0));
    if (pairs.length === 0) return '—';
    return h('span', {class: 'kv'}, pairs.map(([k, v]) => h('span', {},
      `${k}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : v}`)));
  }
  if (Array.isArray(value)) return value.length ? value.join(', ') : '—';
  return text(value);
}

const CAPABILITY_ORDER = ['executor', 'engine', 'git', 'os', 'arch', 'isolation', 'resource_limits', 'pool_size'];

function capabilityFacts(capabilities) {
  const entries = Object.entries(capabilities ?? {});
  if (entries.length === 0) return h('p', {class: 'muted'}, 'This runner reported no capabilities (an older runner).');
  const rank = (k) => (CAPABILITY_ORDER.includes(k) ? CAPABILITY_ORDER.indexOf(k) : CAPABILITY_ORDER.length);
  entries.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return h('dl', {class: 'facts', id: 'runner-capabilities'},
    entries.map(([key, value]) => {
      // A nested object (the runner's policy) gets the card's width.
      const wide = value && typeof value === 'object' && !Array.isArray(value) && !value.name && !value.version;
      return h('div', {class: wide ? 'fact fact-wide' : 'fact', dataset: {capability: key}},
        h('dt', {}, key.replace(/_/g, ' ')), h('dd', {class: wide ? 'mono small' : null}, capabilityValue(value)));
    }));
}

// The last heartbeat's usage: running jobs, the warm pool, and whatever else it sends.
function usageFacts(usage = {}) {
  const known = new Set(['running_jobs', 'max_concurrent_jobs', 'pool']);
  const pool = usage.pool;
  return h('dl', {class: 'facts', id: 'runner-usage'},
    fact('Running jobs', `${usage.running_jobs ?? 0} / ${usage.max_concurrent_jobs ?? '?'}`),
    pool && pool.size > 0 ? fact('Warm pool', `${pool.ready ?? 0} / ${pool.size} ready`, 'usage-pool') : null,
    Object.entries(usage).filter(([k]) => !known.has(k)).map(([k, v]) =>
      fact(k.replace(/_/g, ' '), /_bytes$/.test(k) ? formatBytes(v) : capabilityValue(v))));
}

// One figure of the runner's samples over time, as a line from the oldest to the newest; a
// gap of more than three sample intervals (the runner was offline) breaks the line.
function historyChart({samples, value, max, label, format, id}) {
  const points = samples.map((s) => ({t: parseTime(s.at), v: value(s)})).filter((p) => p.t && p.v != null);
  if (points.length < 2) return null;
  const width = 600;
  const height = 70;
  const top = 6;
  const ceiling = Math.max(max ?? 0, ...points.map((p) => p.v), 1e-9);
  const t0 = points[0].t;
  const span = Math.max(1, points[points.length - 1].t - t0);
  const x = (t) => (((t - t0) / span) * width).toFixed(1);
  const y = (v) => (top + (height - top) * (1 - v / ceiling)).toFixed(1);
  let d = '';
  points.forEach((p, i) => {
    const gap = i > 0 && p.t - points[i - 1].t > 3 * HISTORY_EVERY_MS;
    d += `${i === 0 || gap ? 'M' : 'L'} ${x(p.t)} ${y(p.v)} `;
  });
  const last = points[points.length - 1].v;
  return h('figure', {class: 'usage-figure', id},
    svg('svg', {class: 'chart usage-chart', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img',
      'aria-label': `${label} over the last ${formatDuration(span)}: now ${format(last)}`},
    svg('line', {class: 'grid', x1: 0, x2: width, y1: y(ceiling), y2: y(ceiling)}),
    svg('line', {class: 'grid', x1: 0, x2: width, y1: y(0), y2: y(0)}),
    svg('path', {class: 'usage-line', d: d.trim()})),
    h('figcaption', {class: 'sub'}, `${label}: now ${format(last)}, at most ${format(ceiling)}, over ${formatDuration(span)}`));
}

// The runner's resource use over the last day, from the server's samples (one a minute).
function usageHistory(samples, runner) {
  const charts = [
    historyChart({samples, id: 'usage-history-running', label: 'Running jobs', value: (s) => s.running,
      max: runner.max_concurrent_jobs, format: (v) => String(Math.round(v))}),
    historyChart({samples, id: 'usage-history-load', label: 'Load (1 min)', value: (s) => s.load_1m,
      max: runner.system?.cpus, format: (v) => v.toFixed(2)}),
    historyChart({samples, id: 'usage-history-memory', label: 'Memory available', value: (s) => s.memory_available_bytes,
      max: runner.system?.memory_bytes, format: formatBytes}),
    historyChart({samples, id: 'usage-history-disk', label: 'Disk free', value: (s) => s.disk_free_bytes,
      max: runner.system?.disk_bytes, format: formatBytes}),
  ].filter(Boolean);
  if (charts.length === 0) {
    return h('p', {class: 'muted small', id: 'usage-history-empty'},
      `${samples.length === 1 ? 'One sample so far' : 'No samples yet'}: the server keeps one a minute from the runner's heartbeats, and charts appear from the second.`);
  }
  return h('div', {id: 'usage-history'}, charts);
}

function jobsTable(jobs, runnerId) {
  if (jobs.length === 0) return h('p', {class: 'muted', id: 'runner-no-jobs'}, 'This runner has run no job yet.');
  return tableWrap(h('table', {class: 'table compact', id: 'runner-jobs-table'},
    tableHead(['Job', 'State', 'Attempt', 'Created', 'Duration'], ['Attempt', 'Duration']),
    h('tbody', {}, jobs.map((job) => {
      const mine = (job.attempts ?? []).filter((a) => a.runner_id === runnerId);
      const attempt = mine[mine.length - 1];
      const started = parseTime(attempt?.started_at ?? job.started_at);
      const finished = parseTime(attempt?.finished_at ?? job.finished_at);
      return h('tr', {dataset: {jobId: job.id}},
        h('td', {class: 'name'}, h('a', {href: `#/jobs/${encodeURIComponent(job.id)}`}, job.name || job.id),
          h('div', {class: 'sub mono'}, job.id)),
        h('td', {}, statePill(job.state)),
        h('td', {class: 'num'}, attempt ? String(attempt.attempt) : '—'),
        h('td', {class: 'nowrap'}, agoElement(parseTime(job.created_at))),
        h('td', {class: 'num nowrap'}, started ? formatDuration((finished ?? Date.now()) - started) : '—'));
    }))));
}

const COMMAND_HELP = {
  drain: 'take no new jobs; running jobs finish',
  resume: 'take jobs again after a drain',
  restart: 'finish running jobs, then restart the runner process',
  update: 'fetch the server\'s runner binary, verify it, and restart on it (rolled back if it fails)',
};

function commandsTable(commands) {
  if (commands.length === 0) return h('p', {class: 'muted', id: 'runner-no-commands'}, 'No command was sent to this runner.');
  return tableWrap(h('table', {class: 'table compact', id: 'runner-commands-table'},
    tableHead(['Command', 'State', 'Message', 'Sent', 'By', 'Delivered', 'Finished', 'Version']),
    h('tbody', {}, commands.map((c) => h('tr', {dataset: {commandId: c.id, commandType: c.type}},
      h('td', {class: 'mono'}, c.type),
      h('td', {}, statePill(c.state)),
      h('td', {class: 'reason'}, c.message || '—'),
      h('td', {class: 'nowrap'}, agoElement(parseTime(c.created_at))),
      h('td', {class: 'mono'}, c.created_by || '—'),
      h('td', {class: 'nowrap'}, formatDateTime(parseTime(c.delivered_at))),
      h('td', {class: 'nowrap'}, formatDateTime(parseTime(c.finished_at))),
      h('td', {class: 'mono'}, c.version || '—'))))));
}

export function mount(container, {params}) {
  const id = params.id;
  const status = h('div', {class: 'page-status'});
  const title = h('div', {}, h('h1', {id: 'runner-name'}, 'Runner'), h('div', {class: 'sub mono'}, id));
  const pill = h('span', {});
  const actions = h('div', {class: 'head-actions'}, pill);
  const summary = h('section', {class: 'card'}, h('p', {class: 'muted'}, 'Loading the runner…'));
  const system = h('section', {class: 'card'}, h('h2', {}, 'System'));
  const capabilities = h('section', {class: 'card'}, h('h2', {}, 'Capabilities'));
  const usage = h('section', {class: 'card'}, h('h2', {}, 'Usage'));
  const jobs = h('section', {class: 'card'}, h('h2', {}, 'Recent jobs'));
  const commandsBody = h('div', {});
  const commandButtons = h('div', {class: 'command-buttons'});
  const commands = h('section', {class: 'card', id: 'runner-commands', hidden: true},
    h('div', {class: 'card-head'}, h('h2', {}, 'Commands'), commandButtons),
    h('p', {class: 'hint'}, 'Sent to the runner with its next heartbeat (at once when it waits for work); ',
      'the runner acknowledges each one.'),
    commandsBody);
  const rest = [h('div', {class: 'grid-2'}, system, capabilities), usage, jobs, commands];
  container.append(h('div', {class: 'crumbs'}, h('a', {href: '#/runners'}, '← Runners')),
    h('div', {class: 'page-head'}, title, actions), status, summary);

  let runner = null;
  let admin = false;
  let commandsAvailable = true;  // until the server answers 404 (or 403)
  let samples = [];
  let historyReadAt = 0;
  const usageBody = h('div', {});
  const chartBody = h('div', {});
  usage.append(usageBody, chartBody);

  const drain = h('button', {class: 'btn', type: 'button', id: 'runner-drain', hidden: true,
    title: 'take no new jobs; running jobs finish', onclick: () => act(() => api.drainRunner(id), drain)}, 'Drain');
  const resume = h('button', {class: 'btn', type: 'button', id: 'runner-resume', hidden: true,
    title: 'take jobs again', onclick: () => act(() => api.resumeRunner(id), resume)}, 'Resume');
  actions.append(drain, resume);

  const act = async (call, button = null) => {
    if (button) button.disabled = true;
    try {
      await call();
      showLoadError(status, null);
      await load();
    } catch (e) {
      showLoadError(status, e instanceof ApiError && e.status === 403
        ? new Error('Only an admin may do that (403): sign in with an admin token.') : e, {hadData: true});
    } finally {
      if (button) button.disabled = false;
    }
  };

  const sendCommand = (type) => act(() => api.sendRunnerCommand(id, type));
  const commandButton = (type) => {
    const label = `Send ${type}`;
    const attrs = {id: `command-${type}`, title: COMMAND_HELP[type]};
    // Restart and update stop the process: two clicks, as cancelling a job.
    if (type === 'restart' || type === 'update') {
      return confirmButton({label, className: 'btn btn-small', attrs, onConfirm: () => sendCommand(type)});
    }
    return h('button', {class: 'btn btn-small', type: 'button', ...attrs, onclick: () => sendCommand(type)}, label);
  };

  isAdmin().then((answer) => {
    admin = answer !== false;  // unknown: offer them, the server decides
    if (admin) commandButtons.append(...['drain', 'resume', 'restart', 'update'].map(commandButton));
    if (runner) render();
  });

  const render = () => {
    clear(title).append(h('h1', {id: 'runner-name'}, runner.name), h('div', {class: 'sub mono'}, runner.id));
    clear(pill).append(statusPill(runner.status));
    drain.hidden = !admin || runner.status === 'draining';
    resume.hidden = !admin || runner.status !== 'draining';
    clear(summary).append(h('h2', {}, 'Summary'), summaryFacts(runner));
    clear(system).append(h('h2', {}, 'System'), systemFacts(runner.system));
    clear(capabilities).append(h('h2', {}, 'Capabilities'), capabilityFacts(runner.capabilities));
    clear(usageBody).append(usageFacts(runner.usage ?? {}));
    clear(chartBody).append(usageHistory(samples, runner));
  };

  const loadCommands = async () => {
    if (!commandsAvailable) return;
    try {
      const {commands: list} = await api.runnerCommands(id);
      commands.hidden = false;
      clear(commandsBody).append(commandsTable(list ?? []));
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403 || e.status === 405)) {
        commandsAvailable = false;  // a server without remote commands, or not for this token
        commands.hidden = true;
        return;
      }
      throw e;
    }
  };

  const loadJobs = async () => {
    const page = await api.jobs({runner: id, limit: RECENT_JOBS});
    const mine = (page.jobs ?? []).filter((j) => (j.attempts ?? []).some((a) => a.runner_id === id));
    clear(jobs).append(h('div', {class: 'card-head'}, h('h2', {}, 'Recent jobs'),
      h('a', {href: `#/jobs?runner=${encodeURIComponent(runner.name)}`}, 'All jobs of this runner')),
    jobsTable(mine, id));
  };

  let notFound = false;
  const load = async () => {
    if (notFound) return;
    try {
      const fresh = await api.runner(id);
      const firstLoad = runner === null;
      runner = fresh;
      if (Date.now() - historyReadAt >= HISTORY_EVERY_MS) {
        try {
          samples = (await api.runnerUsage(id, HISTORY_HOURS)).samples ?? [];
          historyReadAt = Date.now();
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 404)) throw e;  // an older server: no history
          historyReadAt = Date.now();
        }
      }
      if (firstLoad) container.append(...rest);
      render();
      await Promise.all([loadJobs(), loadCommands()]);
      showLoadError(status, null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && runner === null) {
        notFound = true;
        clear(summary).append(notice('error', `There is no runner ${id} (or it belongs to another tenant). `,
          h('a', {href: '#/runners'}, 'Back to the runners.')));
        return;
      }
      showLoadError(status, e, {hadData: runner !== null});
    }
  };
  return poll(load, 2000);
}

// One job: its state and timings, the cancel button, attempts, spec and the live log; for an
// agent job also the agent's summary and transcript (agent_view.js).
// The job is re-read every 2 s until it ends; the log comes over its own WebSocket.
import {AgentPanel} from '../agent_view.js';
import {ApiError, api} from '../api.js';
import {ENDED_STATES, agoElement, clear, formatBytes, formatDateTime, formatDuration, h, labelChips, notice,
  parseTime, statePill, tableHead, tableWrap} from '../dom.js';
import {LogView} from '../log_view.js';
import {showLoadError} from '../poll.js';

// Queued wait: from submission to the first start (or until now while it has not
// started), as in GET /api/v1/stats. Run time: from start to finish (or until now).
function timings(job) {
  const now = Date.now();
  const created = parseTime(job.created_at);
  const firstStart = parseTime(job.attempts?.[0]?.started_at);
  const started = parseTime(job.started_at);
  const finished = parseTime(job.finished_at);
  const queuedWait = firstStart ? firstStart - created : (ENDED_STATES.has(job.state) ? null : now - created);
  const runTime = started ? (finished ?? now) - started : null;
  return {created, started, finished, queuedWait, runTime};
}

function fact(term, value, id) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {id}, value));
}

function facts(job) {
  const t = timings(job);
  const attempt = job.attempts?.[job.attempts.length - 1];
  return h('dl', {class: 'facts'},
    fact('State', statePill(job.state), 'fact-state'),
    fact('Exit code', job.exit_code ?? '—', 'fact-exit'),
    fact('Reason', job.reason || '—'),
    fact('Runner', attempt?.runner_name || '—'),
    fact('Attempt', `${job.attempt ?? 0} of ${job.max_attempts}`),
    fact('Labels', labelChips(job.labels)),
    fact('Group', job.group || 'any'),
    fact('Priority', String(job.priority ?? 0)),
    fact('Created', h('span', {}, formatDateTime(t.created), ' (', agoElement(t.created), ')')),
    fact('Started', formatDateTime(t.started)),
    fact('Finished', formatDateTime(t.finished)),
    fact('Queued wait', formatDuration(t.queuedWait), 'fact-wait'),
    fact('Run time', formatDuration(t.runTime), 'fact-run'));
}

function attemptsTable(job) {
  const attempts = job.attempts ?? [];
  if (attempts.length === 0) return h('p', {class: 'muted'}, 'No attempt yet: the job has not been claimed.');
  return tableWrap(h('table', {class: 'table compact', id: 'attempts-table'},
    tableHead(['#', 'Runner', 'State', 'Claimed', 'Started', 'Finished', 'Duration', 'Exit', 'Reason', 'Log'],
      ['#', 'Duration', 'Exit', 'Log']),
    h('tbody', {}, attempts.map((a) => {
      const started = parseTime(a.started_at);
      const finished = parseTime(a.finished_at);
      return h('tr', {},
        h('td', {class: 'num'}, String(a.attempt)),
        h('td', {class: 'nowrap'}, a.runner_name || a.runner_id || '—'),
        h('td', {}, statePill(a.state)),
        h('td', {class: 'nowrap'}, formatDateTime(parseTime(a.claimed_at))),
        h('td', {class: 'nowrap'}, formatDateTime(started)),
        h('td', {class: 'nowrap'}, formatDateTime(finished)),
        h('td', {class: 'num nowrap'}, started ? formatDuration((finished ?? Date.now()) - started) : '—'),
        h('td', {class: 'num'}, a.exit_code ?? '—'),
        h('td', {}, a.reason || '—'),
        h('td', {class: 'num nowrap'}, formatBytes(a.log_size)));
    }))));
}

// Two clicks: the first arms the button for a few seconds, so a stray click cancels nothing.
// The armed state outlives the button: the header is redrawn on every refresh.
const ARM_MS = 4000;

function cancelButton(job, cancelState, onCanceled, status) {
  if (ENDED_STATES.has(job.state)) return null;
  if (job.cancel_requested) return h('button', {class: 'btn', type: 'button', disabled: true}, 'Cancel requested…');
  const armed = () => Date.now() < cancelState.armedUntil;
  const label = () => (armed() ? 'Click again to cancel' : 'Cancel job');
  const button = h('button', {class: 'btn btn-danger', type: 'button', id: 'cancel-job', onclick: async () => {
    if (!armed()) {
      cancelState.armedUntil = Date.now() + ARM_MS;
      button.textContent = label();
      setTimeout(() => {
        button.textContent = label();
      }, ARM_MS);
      return;
    }
    cancelState.armedUntil = 0;
    button.disabled = true;
    try {
      await api.cancel(job.id);
      showLoadError(status, null);
      onCanceled();
    } catch (e) {
      button.disabled = false;
      button.textContent = label();
      showLoadError(status, e, {hadData: true});
    }
  }}, label());
  return button;
}

export function mount(container, {params}) {
  const id = params.id;
  const status = h('div', {class: 'page-status'});
  const head = h('div', {class: 'page-head'}, h('h1', {}, 'Job'));
  const summary = h('section', {class: 'card'}, h('p', {class: 'muted'}, 'Loading the job…'));
  const attempts = h('section', {class: 'card'});
  const spec = h('section', {class: 'card'});
  const crumbs = h('div', {class: 'crumbs'}, h('a', {href: '#/jobs'}, '← Jobs'));
  container.append(crumbs, head, status, summary);

  let job = null;
  let log = null;
  let agent = null;  // an agent job's panel
  const cancelState = {armedUntil: 0};
  let timer = null;
  let stopped = false;

  const render = () => {
    const runId = job.spec?.workflow?.run_id;
    if (runId && !crumbs.querySelector('.workflow-run-link')) {
      crumbs.append(' · ', h('a', {href: `#/workflows/${encodeURIComponent(runId)}?job=${encodeURIComponent(job.spec.workflow.key ?? '')}`,
        class: 'workflow-run-link'}, `workflow run ${runId}`));
    }
    clear(head).append(
      h('div', {}, h('h1', {id: 'job-name'}, job.name || job.id), h('div', {class: 'sub mono'}, job.id)),
      h('div', {class: 'head-actions'}, statePill(job.state), cancelButton(job, cancelState, () => load(), status)));
    clear(summary).append(h('h2', {}, 'Summary'), facts(job));
    clear(attempts).append(h('h2', {}, 'Attempts'), attemptsTable(job));
    if (!spec.hasChildNodes()) {
      spec.append(h('h2', {}, 'Spec'), h('pre', {class: 'code', id: 'job-spec'}, JSON.stringify(job.spec, null, 2)));
    }
  };

  const load = async () => {
    clearTimeout(timer);
    try {
      const fresh = await api.job(id);
      if (stopped) return;
      job = fresh;
      showLoadError(status, null);
      render();
      if (!log) {
        log = new LogView(id, {onEnd: () => load()}).start();
        if (job.spec?.agent) agent = new AgentPanel(id);
        container.append(...(agent ? agent.elements : []), log.element, attempts, spec);
      }
      if (agent) agent.update(job);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        clear(summary).append(notice('error', `There is no job ${id} (or it belongs to another tenant). `,
          h('a', {href: '#/jobs'}, 'Back to the jobs.')));
        clear(status);
        return;  // nothing to retry
      }
      showLoadError(status, e, {hadData: job !== null});
    }
    clearTimeout(timer);  // a cancel or the log's end may have started a second load
    if (!stopped && !(job && ENDED_STATES.has(job.state))) timer = setTimeout(load, 2000);
  };
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (log) log.stop();
    if (agent) agent.stop();
  };
}

// One workflow run (#/workflows/{id}?job=KEY): its state, event, repository and attempt;
// Cancel while it has not finished and "Re-run failed jobs" once it finished with failures
// (two clicks each); the job graph (workflow_graph.js); and the selected job (?job=, kept in
// the URL) with its steps, each opening on its section of the job's log.
//
// The run is re-read every 2 s until it finishes (then every 10 s, so a rerun started
// elsewhere shows); the selected job's log is read from where the last read stopped
// (GET /api/v1/jobs/{id}/logs?offset=) on the same beat while it runs.
import {ApiError, api} from '../api.js';
import {agoElement, clear, confirmButton, formatDateTime, formatDuration, h, notice, parseTime, statePill} from '../dom.js';
import {JobLogText} from '../job_log_text.js';
import {poll, showLoadError} from '../poll.js';
import {WorkflowGraph} from '../workflow_graph.js';
import {JOB_ENDED_STATES, RUN_ENDED_STATES, canRerunFailed, jobDurationMs, jobProgress, runDurationMs,
  shortSha} from '../workflow_model.js';
import {StepsView} from '../workflow_steps_view.js';
import {repoCell} from './workflows.js';

const FINISHED_REFRESH_MS = 10_000;

function fact(term, value, id) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {id}, value ?? '—'));
}

function runFacts(run) {
  const {done, total} = jobProgress(run);
  const repo = run.repo && typeof run.repo === 'object' ? run.repo : null;
  const inputs = Object.entries(run.inputs ?? {});
  return h('dl', {class: 'facts'},
    fact('State', statePill(run.state), 'run-state'),
    fact('Event', h('span', {class: 'mono'}, run.event || '—'), 'run-event'),
    fact('Repository', repoCell(repo, {withSha: false}), 'run-repo'),
    fact('Commit', repo?.sha ? h('span', {class: 'mono', title: repo.sha}, shortSha(repo.sha)) : '—', 'run-sha'),
    fact('Attempt', String(run.attempt ?? 1), 'run-attempt'),
    fact('Jobs done', `${done} / ${total}`, 'run-progress'),
    fact('Created', h('span', {}, formatDateTime(parseTime(run.created_at)), ' (', agoElement(parseTime(run.created_at)), ')')),
    fact('Finished', formatDateTime(parseTime(run.finished_at))),
    fact('Duration', formatDuration(runDurationMs(run)), 'run-duration'),
    inputs.length ? h('div', {class: 'fact fact-wide'}, h('dt', {}, 'Inputs'),
      h('dd', {class: 'kv mono small'}, inputs.map(([k, v]) => h('span', {}, `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`))))
      : null);
}

// The job to show until the user picks one (or when the URL names one the run does not
// have): a failed one, else one that runs, else the first.
function defaultJob(jobs) {
  return (jobs.find((j) => j.state === 'failed') ?? jobs.find((j) => j.state === 'running') ?? jobs[0])?.key ?? null;
}

function jobFacts(job) {
  const matrix = Object.entries(job.matrix ?? {});
  const outputs = Object.entries(job.outputs ?? {});
  return h('dl', {class: 'facts'},
    fact('Duration', formatDuration(jobDurationMs(job))),
    fact('Started', formatDateTime(parseTime(job.started_at))),
    fact('Finished', formatDateTime(parseTime(job.finished_at))),
    fact('Needs', (job.needs ?? []).length ? job.needs.join(', ') : '—'),
    fact('Corral job', job.job_id
      ? h('a', {href: `#/jobs/${encodeURIComponent(job.job_id)}`, class: 'mono', id: 'wf-job-link'}, job.job_id)
      : h('span', {class: 'muted'}, 'not queued')),
    matrix.length ? fact('Matrix', h('span', {class: 'chips'},
      matrix.map(([k, v]) => h('span', {class: 'chip'}, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)))) : null,
    outputs.length ? h('div', {class: 'fact fact-wide'}, h('dt', {}, 'Outputs'),
      h('dd', {class: 'kv mono small'}, outputs.map(([k, v]) => h('span', {}, `${k}=${v}`)))) : null);
}

const MESSAGE_KIND = {failed: 'error', canceled: 'warn'};

export function mount(container, {params, query}) {
  const id = params.id;
  const status = h('div', {class: 'page-status'});
  const title = h('div', {}, h('h1', {id: 'run-name'}, 'Workflow run'), h('div', {class: 'sub mono'}, id));
  const pill = h('span', {});
  const act = async (call) => {
    try {
      run = await call();
      showLoadError(status, null);
      render();
    } catch (e) {
      showLoadError(status, e, {hadData: true});
    }
  };
  const cancel = confirmButton({label: 'Cancel run', className: 'btn btn-danger', attrs: {id: 'wf-cancel', hidden: true},
    onConfirm: () => act(() => api.cancelWorkflowRun(id))});
  const rerun = confirmButton({label: 'Re-run failed jobs', className: 'btn', attrs: {id: 'wf-rerun', hidden: true,
    title: 'run the failed and canceled jobs again, with the jobs that need them'},
  onConfirm: () => act(() => api.rerunFailedJobs(id))});
  const summary = h('section', {class: 'card'}, h('p', {class: 'muted'}, 'Loading the run…'));
  const graph = new WorkflowGraph({onSelect: (key) => select(key)});
  const graphCard = h('section', {class: 'card', hidden: true},
    h('div', {class: 'card-head'}, h('h2', {}, 'Jobs'),
      h('span', {class: 'hint'}, 'Arrows run from a job to the jobs that need it; select a job for its steps.')),
    graph.element);
  const jobHead = h('div', {class: 'card-head'});
  const jobFactsBox = h('div', {});
  const jobMessage = h('div', {id: 'wf-job-message'});
  const logStatus = h('div', {});
  const steps = new StepsView();
  const jobCard = h('section', {class: 'card', id: 'wf-job', hidden: true}, jobHead, jobFactsBox, jobMessage,
    h('h3', {class: 'wf-steps-title'}, 'Steps'), logStatus, steps.element);
  container.append(h('div', {class: 'crumbs'}, h('a', {href: '#/workflows'}, '← Workflows')),
    h('div', {class: 'page-head'}, title, h('div', {class: 'head-actions'}, pill, cancel, rerun)),
    status, summary, graphCard, jobCard);

  let run = null;
  let selected = query.job || null;
  let chosen = Boolean(query.job);  // until the user picks a job, the page shows defaultJob's
  let jobLog = null;    // the selected job's log (JobLogText)
  let readAt = 0;
  let gone = false;     // the server has no such run

  const selectedJob = () => run?.jobs.find((j) => j.key === selected) ?? null;

  const renderJob = () => {
    const job = selectedJob();
    jobCard.hidden = !job;
    if (!job) return;
    clear(jobHead).append(h('h2', {id: 'wf-job-name'}, job.name), statePill(job.state));
    clear(jobFactsBox).append(jobFacts(job));
    clear(jobMessage);
    if (job.message) jobMessage.append(notice(MESSAGE_KIND[job.state] ?? 'info', job.message));
    const logText = jobLog && jobLog.jobId === job.job_id ? jobLog.text : '';
    steps.update(job, logText);
  };

  const render = () => {
    if (!run) return;
    if (!chosen || !run.jobs.some((j) => j.key === selected)) selected = defaultJob(run.jobs);
    clear(title).append(h('h1', {id: 'run-name'}, run.name || run.id),
      h('div', {class: 'sub mono'}, run.id));
    clear(pill).append(statePill(run.state));
    cancel.hidden = RUN_ENDED_STATES.has(run.state);
    rerun.hidden = !canRerunFailed(run);
    clear(summary).append(h('h2', {}, 'Summary'), runFacts(run));
    graphCard.hidden = false;
    graph.update(run.jobs, selected);
    renderJob();
  };

  // Reads what is new of the selected job's log while it runs (and once after it ended).
  const refreshLog = async () => {
    const job = selectedJob();
    if (!job || !job.job_id) {
      jobLog = null;
      return;
    }
    if (!jobLog || jobLog.jobId !== job.job_id) jobLog = new JobLogText(job.job_id);
    if (jobLog.complete && JOB_ENDED_STATES.has(job.state)) return;
    const reading = jobLog;
    try {
      const changed = await reading.refresh();
      clear(logStatus);
      if (changed && reading === jobLog) renderJob();
    } catch (e) {
      if (reading === jobLog) showLoadError(logStatus, e, {hadData: true});
    }
  };

  const select = (key) => {
    chosen = true;
    const changed = key !== selected;
    selected = key;
    history.replaceState(null, '', `#/workflows/${encodeURIComponent(id)}?job=${encodeURIComponent(key)}`);
    render();
    if (changed) refreshLog();
  };

  const stop = poll(async () => {
    if (gone) return;
    if (run && RUN_ENDED_STATES.has(run.state) && Date.now() - readAt < FINISHED_REFRESH_MS) {
      await refreshLog();  // the last bytes of a job that ended with the run
      return;
    }
    try {
      const fresh = await api.workflowRun(id);
      readAt = Date.now();
      run = fresh;
      showLoadError(status, null);
      render();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        gone = true;
        clear(status);
        clear(summary).append(notice('error', `There is no workflow run ${id} (or it belongs to another tenant). `,
          h('a', {href: '#/workflows'}, 'Back to the runs.')));
        return;
      }
      showLoadError(status, e, {hadData: run !== null});
      return;
    }
    await refreshLog();
  }, 2000);
  return () => {
    gone = true;
    stop();
  };
}

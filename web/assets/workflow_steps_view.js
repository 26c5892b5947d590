// The steps of one workflow job: a row per step (state, name, duration, exit code), each
// opening on its section of the job's log (workflow_model.js stepSections), with "Set up
// job" for what the log holds before the first step. Log text goes in as text nodes, its
// ANSI colours as classes (ansi.js), as in the job page's log.
//
// update() keeps the rows (and so which ones are open) while the job is the same, and
// rewrites an open section only when its text changed.
import {AnsiParser, segmentClasses} from './ansi.js';
import {formatDuration, h, statePill} from './dom.js';
import {stepRows, stepSections} from './workflow_model.js';

// A section longer than this shows its end; the job page and `corral logs` have all of it.
const MAX_SECTION_CHARS = 200_000;

function renderLog(pre, text, jobId) {
  const shown = text.length > MAX_SECTION_CHARS ? text.slice(-MAX_SECTION_CHARS) : text;
  const parser = new AnsiParser();
  const nodes = parser.push(shown).map((segment) => {
    const classes = segmentClasses(segment).join(' ');
    return classes ? h('span', {class: classes}, segment.text) : document.createTextNode(segment.text);
  });
  pre.replaceChildren(...nodes);
  const note = pre.previousElementSibling;
  if (note) note.hidden = shown.length === text.length;
  if (note && jobId) note.lastElementChild.textContent = `corral logs ${jobId}`;
}

function stepSummary(row) {
  return [
    statePill(row.state),
    h('span', {class: 'wf-step-name'}, h('span', {class: 'wf-step-index'}, `${row.index}.`), ' ', row.name),
    h('span', {class: 'wf-step-meta'},
      row.exitCode !== null && row.exitCode !== undefined ? h('span', {class: 'wf-step-exit'}, `exit ${row.exitCode}`) : null,
      h('span', {class: 'wf-step-time'}, row.durationMs === null ? '' : formatDuration(row.durationMs))),
  ];
}

export class StepsView {
  constructor() {
    this.identity = null;
    this.items = [];
    this.element = h('ol', {class: 'wf-steps', id: 'wf-steps'});
  }

  // job: the workflow job; logText: its log so far ('' when there is none).
  update(job, logText) {
    const rows = stepRows(job, logText);
    const {preamble} = stepSections(logText);
    const identity = `${job.key} ${job.job_id} ${rows.length}`;
    if (identity !== this.identity) {
      this.identity = identity;
      this.items = [this.item('setup', 'Set up job'), ...rows.map((row) => this.item(String(row.index), row.name))];
      this.element.replaceChildren(...this.items.map((item) => item.li));
    }
    const noLogReason = !job.job_id ? 'No log: this job did not run.'
      : logText ? null : 'No output yet.';
    const setup = this.items[0];
    setup.li.hidden = !preamble.trim();
    setup.summary.replaceChildren(h('span', {class: 'wf-step-name'}, 'Set up job'));
    this.fill(setup, preamble, job.job_id);
    rows.forEach((row, i) => {
      const item = this.items[i + 1];
      item.details.dataset.state = row.state;
      item.summary.replaceChildren(...stepSummary(row));
      item.message.textContent = row.message ?? '';
      item.message.hidden = !row.message;
      const text = row.section?.text ?? '';
      item.empty.textContent = text ? '' : (noLogReason ?? (row.state === 'skipped' ? 'Skipped: no output.'
        : row.state === 'pending' ? 'This step has not started.' : 'No output.'));
      item.empty.hidden = Boolean(text);
      this.fill(item, text, job.job_id);
    });
  }

  item(step, name) {
    const summary = h('summary', {class: 'wf-step-summary'});
    const message = h('p', {class: 'wf-step-message', hidden: true});
    const empty = h('p', {class: 'muted small wf-step-empty', hidden: true});
    const note = h('div', {class: 'log-trimmed', hidden: true}, 'The start of this step\'s output is not shown; ',
      h('code', {}, 'corral logs'), ' prints the whole log.');
    const pre = h('pre', {class: 'log wf-step-log', tabindex: '0', 'aria-label': `Log of ${name}`});
    const details = h('details', {class: 'wf-step', dataset: {step}}, summary, message, empty, note, pre);
    const item = {li: h('li', {}, details), details, summary, message, empty, pre, text: null, pending: ''};
    // A section is drawn when it opens, and again when it grows while open.
    details.addEventListener('toggle', () => {
      if (details.open && item.text !== item.pending) this.draw(item);
    });
    return item;
  }

  fill(item, text, jobId) {
    item.pending = text;
    item.jobId = jobId;
    item.pre.hidden = !text;
    if (item.details.open && item.text !== text) this.draw(item);
  }

  draw(item) {
    const pre = item.pre;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    item.text = item.pending;
    renderLog(pre, item.text, item.jobId);
    if (atEnd) pre.scrollTop = pre.scrollHeight;  // a growing section follows its end
  }
}

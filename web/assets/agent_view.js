// An agent job's part of the job page: the "Agent" box (CLI, model, cost, tokens, turns,
// duration, session, the prompt, the raw events as a download), the rest of job.result
// (e.g. a review's findings) and the "Transcript" drawn from GET /api/v1/jobs/{id}/events
// (agent_events.js reads it). The runner sends the events once, just before it finishes an
// attempt, so they are read when the job ends (or, while a retry runs, the last attempt's).
// Everything that came from the agent goes in as text nodes, never as markup.
import {ApiError, api} from './api.js';
import {buildTranscript} from './agent_events.js';
import {ENDED_STATES, clear, formatBytes, formatCost, formatCount, formatDuration, h, notice} from './dom.js';

const CLI_NAMES = {claude: 'Claude Code', codex: 'Codex', auto: 'auto (Claude Code or Codex)'};
// Characters of one tool input or result shown in the page; the download has all of it.
export const MAX_SHOWN_CHARS = 20_000;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function fact(term, value, id) {
  return h('div', {class: 'fact'}, h('dt', {}, term), h('dd', {id}, value));
}

function clipped(text, what) {
  if (text.length <= MAX_SHOWN_CHARS) return h('pre', {class: 'code tr-pre'}, text);
  return [h('pre', {class: 'code tr-pre'}, text.slice(0, MAX_SHOWN_CHARS)),
    h('p', {class: 'tr-note'}, `Cut short: the first ${formatCount(MAX_SHOWN_CHARS)} of ${formatCount(text.length)} `,
      `characters of ${what} are shown; the raw events have all of it.`)];
}

function plural(n, word) {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

function agentFacts(job, start) {
  const spec = isObject(job.spec?.agent) ? job.spec.agent : {};
  const agent = isObject(job.result?.agent) ? job.result.agent : null;
  const cliKey = agent?.cli || spec.cli;
  const cli = (CLI_NAMES[cliKey] ?? cliKey ?? '—') + (start?.version ? ` ${start.version}` : '');
  const model = agent?.model || start?.model || spec.model || 'the CLI\'s default';
  const facts = [fact('CLI', cli, 'agent-cli'), fact('Model', model, 'agent-model')];
  if (!agent) {
    const why = ENDED_STATES.has(job.state)
      ? 'The agent reported no cost or tokens: see the log for what happened.'
      : 'Cost, tokens and turns appear when the agent finishes.';
    return [h('dl', {class: 'facts'}, facts), h('p', {class: 'muted', id: 'agent-pending'}, why)];
  }
  const count = (v) => formatCount(typeof v === 'number' ? v : null);
  facts.push(
    fact('Cost', h('span', {title: agent.cost_usd === null ? 'this CLI does not report a cost' : null},
      formatCost(agent.cost_usd)), 'agent-cost'),
    fact('Input tokens', count(agent.input_tokens), 'agent-input-tokens'),
    fact('Output tokens', count(agent.output_tokens), 'agent-output-tokens'),
    fact('Cache read tokens', count(agent.cache_read_tokens), 'agent-cache-tokens'),
    fact('Turns', count(agent.num_turns), 'agent-turns'),
    fact('Duration', formatDuration(typeof agent.duration_ms === 'number' ? agent.duration_ms : null), 'agent-duration'),
    fact('Session', h('span', {class: 'mono'}, agent.session_id || '—'), 'agent-session'));
  return [h('dl', {class: 'facts'}, facts)];
}

function toolElement(entry) {
  let badge = null;
  if (entry.isError) {
    badge = h('span', {class: 'tr-badge tr-badge-error'}, entry.exitCode ? `exit ${entry.exitCode}` : 'error');
  } else if (entry.pending) {
    badge = h('span', {class: 'tr-badge'}, 'no result');
  }
  const output = entry.output === null
    ? h('p', {class: 'muted'}, 'No result was recorded.')
    : clipped(entry.output === '' ? '(no output)' : entry.output, 'the result');
  return h('details', {class: `tr-tool${entry.isError ? ' tr-failed' : ''}`, 'data-kind': 'tool', 'data-tool': entry.name},
    h('summary', {}, h('span', {class: 'tr-tool-summary'}, entry.summary), badge),
    h('div', {class: 'tr-tool-body'},
      h('div', {class: 'tr-label'}, 'Input'),
      clipped(JSON.stringify(entry.input ?? {}, null, 2), 'the input'),
      h('div', {class: 'tr-label'}, entry.isError ? 'Result (error)' : 'Result'),
      output,
      entry.exitCode !== null ? h('p', {class: 'muted tr-exit'}, `exit code ${entry.exitCode}`) : null));
}

function endElement(entry) {
  const parts = [entry.isError ? 'Failed' : 'Finished'];
  if (entry.turns !== null) parts.push(plural(entry.turns, 'turn'));
  if (entry.durationMs !== null) parts.push(formatDuration(entry.durationMs));
  if (entry.costUsd !== null) parts.push(formatCost(entry.costUsd));
  const u = entry.usage ?? {};
  if (u.input || u.output) parts.push(`${formatCount(u.input ?? 0)} in / ${formatCount(u.output ?? 0)} out tokens`);
  if (u.cacheRead) parts.push(`${formatCount(u.cacheRead)} cache read`);
  return h('div', {class: `tr-meta tr-end${entry.isError ? ' tr-end-failed' : ''}`, 'data-kind': 'end'}, parts.join(' · '));
}

function entryElement(entry) {
  switch (entry.kind) {
    case 'start': {
      const parts = [`${entry.cli}${entry.version ? ` ${entry.version}` : ''}`];
      if (entry.model) parts.push(`model ${entry.model}`);
      if (entry.session) parts.push(`session ${entry.session}`);
      return h('div', {class: 'tr-meta', 'data-kind': 'start'}, parts.join(' · '));
    }
    case 'text':
      return h('div', {class: 'tr-text', 'data-kind': 'text'}, entry.text);
    case 'reasoning':
      return h('details', {class: 'tr-reasoning', 'data-kind': 'reasoning'}, h('summary', {}, 'Thinking'),
        h('div', {class: 'tr-reasoning-text'}, entry.text));
    case 'tool':
      return toolElement(entry);
    case 'error':
      return h('div', {class: 'tr-error', 'data-kind': 'error'}, h('strong', {}, 'Error: '), entry.text);
    case 'end':
      return endElement(entry);
    default:
      return null;
  }
}

export class AgentPanel {
  constructor(jobId) {
    this.jobId = jobId;
    this.job = null;
    this.wanted = null;   // which read of the events the page has asked for
    this.sequence = 0;    // a newer read wins over an older one still under way
    this.start = null;    // the transcript's start entry (the CLI's version)
    this.eventsUrl = null;
    this.factsSlot = h('div', {});
    this.downloadSlot = h('div', {class: 'agent-download'});
    this.promptSlot = h('div', {});
    this.box = h('section', {class: 'card', id: 'agent-box'}, h('h2', {}, 'Agent'), this.factsSlot,
      this.promptSlot, this.downloadSlot);
    this.result = h('section', {class: 'card', id: 'agent-result-card', hidden: true});
    this.transcriptSub = h('span', {class: 'muted', id: 'transcript-sub'});
    this.expandButton = h('button', {class: 'btn btn-small', type: 'button', id: 'transcript-expand', hidden: true,
      onclick: () => this.toggleAll()}, 'Expand all');
    this.body = h('div', {class: 'transcript', id: 'transcript-body'});
    this.transcript = h('section', {class: 'card', id: 'transcript'},
      h('div', {class: 'card-head'}, h('div', {class: 'card-title'}, h('h2', {}, 'Transcript'), this.transcriptSub),
        this.expandButton), this.body);
    this.elements = [this.box, this.result, this.transcript];
  }

  update(job) {
    this.job = job;
    clear(this.factsSlot).append(...agentFacts(job, this.start));
    if (!this.promptSlot.hasChildNodes() && typeof job.spec?.agent?.prompt === 'string') {
      this.promptSlot.append(h('details', {class: 'agent-prompt'}, h('summary', {}, 'Prompt'),
        h('pre', {class: 'code', id: 'agent-prompt'}, job.spec.agent.prompt)));
    }
    this.renderResult(job);
    const ended = ENDED_STATES.has(job.state);
    // While a later attempt runs, an earlier one's events may already be there.
    const want = ended ? 'ended' : (job.attempt > 1 ? `attempt ${job.attempt}` : null);
    if (want && want !== this.wanted) {
      this.wanted = want;
      this.load();
    } else if (!want && !this.body.hasChildNodes()) {
      this.status('The transcript appears when the agent finishes; until then the log below follows its work.');
    }
  }

  renderResult(job) {
    const rest = isObject(job.result) ? Object.fromEntries(Object.entries(job.result).filter(([k]) => k !== 'agent')) : {};
    if (Object.keys(rest).length === 0) {
      this.result.hidden = true;
      return;
    }
    this.result.hidden = false;
    clear(this.result).append(h('h2', {}, 'Result'),
      h('p', {class: 'muted'}, 'What the job wrote to ', h('code', {}, '.corral/result.json'), ', beside the agent\'s summary.'),
      h('pre', {class: 'code', id: 'agent-result'}, JSON.stringify(rest, null, 2)));
  }

  status(...message) {
    clear(this.body).append(h('p', {class: 'muted', id: 'transcript-status'}, message));
  }

  async load() {
    const mine = ++this.sequence;
    if (!this.body.querySelector('[data-kind]')) this.status('Loading the transcript…');
    try {
      const {text, attempt} = await api.agentEvents(this.jobId);
      if (mine !== this.sequence || this.stopped) return;
      this.show(text, attempt);
    } catch (e) {
      if (mine !== this.sequence || this.stopped) return;
      if (e instanceof ApiError && e.status === 404) {
        this.status(ENDED_STATES.has(this.job?.state)
          ? 'No transcript: the agent left no events (the CLI may not have started; the log says why).'
          : 'The transcript appears when the agent finishes; until then the log below follows its work.');
        return;
      }
      if (e instanceof ApiError && e.status === 401) return;  // app.js sends the user to sign in
      this.wanted = null;  // the next refresh of the job tries again
      clear(this.body).append(notice('error', 'The transcript could not be read: ', e.message, ' ',
        h('button', {class: 'btn btn-small', type: 'button', onclick: () => this.load()}, 'Retry')));
    }
  }

  show(text, attempt) {
    const {entries, events} = buildTranscript(text);
    this.start = entries.find((e) => e.kind === 'start') ?? null;
    if (this.job) clear(this.factsSlot).append(...agentFacts(this.job, this.start));
    const attempts = this.job?.attempt > 1 && attempt ? `attempt ${attempt} · ` : '';
    this.transcriptSub.textContent = `${attempts}${plural(events, 'event')}`;
    if (this.eventsUrl) URL.revokeObjectURL(this.eventsUrl);
    const blob = new Blob([text], {type: 'application/x-ndjson'});
    this.eventsUrl = URL.createObjectURL(blob);
    clear(this.downloadSlot).append(h('a', {class: 'btn btn-small', id: 'agent-events-download', href: this.eventsUrl,
      download: `${this.jobId}${attempt ? `-attempt-${attempt}` : ''}-events.ndjson`}, 'Download raw events'),
    h('span', {class: 'muted'}, `${formatBytes(blob.size)}, ${plural(events, 'event')} as the CLI printed them`));
    const elements = entries.map(entryElement).filter(Boolean);
    if (elements.length === 0) {
      this.status('Nothing in the ', plural(events, 'event'), ' reads as a transcript; the download has them as they are.');
    } else {
      clear(this.body).append(...elements);
    }
    this.expandButton.hidden = !this.body.querySelector('details');
    this.expandButton.textContent = 'Expand all';
  }

  toggleAll() {
    const details = [...this.body.querySelectorAll('details')];
    const open = details.some((d) => !d.open);
    for (const d of details) d.open = open;
    this.expandButton.textContent = open ? 'Collapse all' : 'Expand all';
  }

  stop() {
    this.stopped = true;
    if (this.eventsUrl) URL.revokeObjectURL(this.eventsUrl);
  }
}

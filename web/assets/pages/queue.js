// Queue: how much is waiting and running, by group and by label set, the oldest wait, and
// for each queued job why it is still waiting (when the server says: `waiting` in
// GET /api/v1/queue; older servers do not send it).
import {api} from '../api.js';
import {agoElement, clear, formatDuration, h, labelChips, parseTime, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

function stat(label, value, extra = {}) {
  return h('div', {class: 'stat'}, h('div', {class: 'stat-value', ...extra}, value), h('div', {class: 'stat-label'}, label));
}

function countsTable(title, head, rows) {
  return h('section', {class: 'card'}, h('h2', {}, title),
    rows.length === 0 ? h('p', {class: 'muted'}, 'Nothing queued or running.')
      : tableWrap(h('table', {class: 'table compact'},
        tableHead(head, head.slice(1)),
        h('tbody', {}, rows))));
}

function waitingSection(waiting) {
  const section = h('section', {class: 'card'}, h('h2', {}, 'Waiting jobs'));
  if (waiting === undefined) {
    section.append(h('p', {class: 'muted'}, 'This server does not report why jobs wait. ',
      'The counts above and each job\'s page still show what is queued.'));
    return section;
  }
  if (waiting.length === 0) {
    section.append(h('p', {class: 'muted'}, 'No job is waiting.'));
    return section;
  }
  const now = Date.now();
  section.append(tableWrap(h('table', {class: 'table', id: 'waiting-table'},
    tableHead(['Job', 'Labels', 'Group', 'Priority', 'Waiting', 'Reason'], ['Priority']),
    h('tbody', {}, waiting.map((j) => {
      const notBefore = parseTime(j.not_before);
      return h('tr', {dataset: {jobId: j.id}},
        h('td', {class: 'name'}, h('a', {href: `#/jobs/${encodeURIComponent(j.id)}`}, j.name || j.id),
          h('div', {class: 'sub mono'}, j.id)),
        h('td', {}, labelChips(j.labels)),
        h('td', {}, j.group || h('span', {class: 'muted'}, 'any')),
        h('td', {class: 'num'}, String(j.priority ?? 0)),
        h('td', {class: 'nowrap'}, agoElement(parseTime(j.created_at), 'since ')),
        h('td', {class: 'reason'}, j.reason
          ? h('span', {class: 'reason-text'}, j.reason)
          : notBefore && notBefore > now
            ? h('span', {class: 'muted'}, `retry backoff: eligible in ${formatDuration(notBefore - now)}`)
            : h('span', {class: 'muted'}, 'next in line')));
    })))));
  return section;
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading the queue…'));
  container.append(
    h('div', {class: 'page-head'}, h('h1', {}, 'Queue'),
      h('span', {class: 'live'}, h('span', {class: 'live-dot'}), 'live')),
    status, body);
  let hadData = false;
  return poll(async () => {
    try {
      const q = await api.queue();
      hadData = true;
      showLoadError(status, null);
      const byState = q.by_state ?? {};
      const oldest = parseTime(q.oldest_queued_at);
      const online = (q.runners?.idle ?? 0) + (q.runners?.busy ?? 0) + (q.runners?.draining ?? 0);
      clear(body).append(
        h('div', {class: 'stat-row'},
          stat('queued', String(byState.queued ?? 0), {'data-count': 'queued'}),
          stat('running', String((byState.running ?? 0) + (byState.leased ?? 0)), {'data-count': 'running'}),
          stat('oldest wait', oldest ? formatDuration(Date.now() - oldest) : '—'),
          stat('runners online', `${online}`, {title: `${q.runners?.idle ?? 0} idle, ${q.runners?.busy ?? 0} busy`})),
        h('div', {class: 'grid-2'},
          countsTable('By group', ['Group', 'Queued', 'Running'], (q.by_group ?? []).map((g) =>
            h('tr', {}, h('td', {}, g.group || h('span', {class: 'muted'}, 'any')),
              h('td', {class: 'num'}, String(g.queued)), h('td', {class: 'num'}, String(g.running))))),
          countsTable('By label set', ['Labels', 'Queued'], (q.by_labels ?? []).map((l) =>
            h('tr', {}, h('td', {}, labelChips(l.labels)), h('td', {class: 'num'}, String(l.queued)))))),
        waitingSection(q.waiting));
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  }, 2000);
}

// Schedules (#/schedules): each schedule of the tenant with its cron, time zone, next run,
// whether it is paused (and why, when the system paused it), and the last job it made;
// pause and resume (POST /api/v1/schedules/{id}/pause, .../resume). Re-read every 5 s.
import {ApiError, api} from '../api.js';
import {agoElement, clear, formatDateTime, h, labelChips, parseTime, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

function nextRun(s) {
  if (s.paused) {
    return h('span', {class: 'muted'}, 'paused', s.paused_reason ? `: ${s.paused_reason}` : '');
  }
  const next = parseTime(s.next_run_at);
  if (!next) return h('span', {class: 'muted'}, '—');
  return h('span', {class: 'nowrap', title: new Date(next).toISOString()}, formatDateTime(next));
}

function lastJob(s) {
  if (!s.last_job_id) return h('span', {class: 'muted'}, 'none yet');
  return h('span', {}, h('a', {href: `#/jobs/${encodeURIComponent(s.last_job_id)}`, class: 'mono'}, s.last_job_id),
    h('div', {class: 'sub'}, agoElement(parseTime(s.last_run_at))));
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading schedules…'));
  container.append(
    h('div', {class: 'page-head'}, h('h1', {}, 'Schedules'),
      h('span', {class: 'live'}, h('span', {class: 'live-dot'}), 'live')),
    status, body);
  let hadData = false;

  const toggle = async (s, button) => {
    button.disabled = true;
    try {
      await (s.paused ? api.resumeSchedule(s.id) : api.pauseSchedule(s.id));
      showLoadError(status, null);
      await load();
    } catch (e) {
      button.disabled = false;
      // 409: its owner's token was revoked; the server's message says to make it again.
      showLoadError(status, e, {hadData: true});
    }
  };

  const row = (s) => {
    const button = h('button', {class: 'btn btn-small', type: 'button', 'aria-label': `${s.paused ? 'Resume' : 'Pause'} ${s.name}`,
      onclick: () => toggle(s, button)}, s.paused ? 'Resume' : 'Pause');
    return h('tr', {dataset: {scheduleId: s.id, scheduleName: s.name, paused: String(Boolean(s.paused))}},
      h('td', {class: 'name'}, s.name, h('div', {class: 'sub mono'}, s.id)),
      h('td', {class: 'mono nowrap'}, s.cron),
      h('td', {class: 'nowrap'}, s.timezone || 'UTC'),
      h('td', {class: 'next-run'}, nextRun(s)),
      h('td', {}, s.paused ? h('span', {class: 'pill status-draining'}, 'paused') : h('span', {class: 'pill status-idle'}, 'active')),
      h('td', {}, labelChips(s.job?.labels)),
      h('td', {}, lastJob(s)),
      h('td', {}, button));
  };

  const load = async () => {
    try {
      const {schedules} = await api.schedules();
      hadData = true;
      showLoadError(status, null);
      clear(body);
      if (schedules.length === 0) {
        body.append(h('div', {class: 'empty'}, h('p', {}, 'No schedule yet.'),
          h('p', {class: 'muted'}, 'Make one with ',
            h('code', {}, 'corral schedule create nightly --cron "0 2 * * *" --timezone Europe/Berlin -- ./refresh.sh'),
            ' (docs/schedules.md).')));
        return;
      }
      const sorted = [...schedules].sort((a, b) => a.name.localeCompare(b.name));
      body.append(tableWrap(h('table', {class: 'table', id: 'schedules-table'},
        tableHead(['Name', 'Cron', 'Time zone', 'Next run', 'State', 'Job labels', 'Last job', '']),
        h('tbody', {}, sorted.map(row)))));
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        clear(body).append(h('div', {class: 'empty'}, h('p', {}, 'This token may not read schedules (403): ',
          'sign in with a user or admin token.')));
        return;
      }
      showLoadError(status, e, {hadData});
    }
  };
  return poll(load, 5000);
}

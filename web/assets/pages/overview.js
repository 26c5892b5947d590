// Overview: jobs finished per hour over the last 24 h by outcome (a stacked bar chart in
// inline SVG), success rate and medians from GET /api/v1/stats?hours=24, plus the live
// queue and runner counts. A server without /api/v1/stats (404) shows "stats unavailable".
import {ApiError, api} from '../api.js';
import {clear, formatDuration, h, notice, parseTime, svg} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

const OUTCOMES = ['succeeded', 'failed', 'canceled'];
const CHART = {width: 720, height: 240, left: 40, right: 8, top: 12, bottom: 28};

// 1, 2, 5, 10, 20, 50, ... at least max, so the top gridline is a round number.
function niceCeiling(max) {
  if (max <= 4) return Math.max(1, Math.ceil(max));
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= max) return step * magnitude;
  }
  return 10 * magnitude;
}

export function barChart(hours) {
  const {width, height, left, right, top, bottom} = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = hours.map((b) => OUTCOMES.reduce((sum, o) => sum + (b[o] ?? 0), 0));
  const yMax = niceCeiling(Math.max(0, ...totals));
  const slot = plotW / Math.max(1, hours.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v) => top + plotH - (v / yMax) * plotH;

  // Whole jobs only: small maxima get one line per job, larger ones four steps.
  const step = yMax <= 4 ? 1 : yMax / 4;
  const ticks = Array.from({length: Math.round(yMax / step) + 1}, (_, i) => i * step);
  const grid = ticks.map((value) => {
    const label = Number.isInteger(value) ? String(value) : value.toFixed(1);
    return [svg('line', {x1: left, x2: width - right, y1: y(value), y2: y(value), class: 'grid'}),
      svg('text', {x: left - 6, y: y(value) + 4, class: 'axis', 'text-anchor': 'end'}, label)];
  });
  const bars = hours.map((bucket, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    const start = parseTime(bucket.start);
    const hourLabel = start ? new Date(start).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit', hour12: false}) : '';
    let base = 0;
    const parts = OUTCOMES.map((o) => {
      const n = bucket[o] ?? 0;
      if (n === 0) return null;
      const rect = svg('rect', {x, width: barW, y: y(base + n), height: y(base) - y(base + n), class: `bar bar-${o}`,
        rx: 1.5}, svg('title', {}, `${hourLabel}: ${n} ${o}`));
      base += n;
      return rect;
    });
    const tick = i % 3 === 0
      ? svg('text', {x: x + barW / 2, y: height - bottom + 16, class: 'axis', 'text-anchor': 'middle'}, hourLabel)
      : null;
    return svg('g', {'data-hour': bucket.start, 'data-total': String(totals[i])}, parts, tick);
  });
  return svg('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', id: 'finished-chart',
    'aria-label': `Jobs finished per hour over the last ${hours.length} hours, by outcome`}, grid, bars);
}

function stat(label, value, id) {
  return h('div', {class: 'stat'}, h('div', {class: 'stat-value', id}, value), h('div', {class: 'stat-label'}, label));
}

function statsSection(stats) {
  const rate = stats.success_rate === null || stats.success_rate === undefined
    ? '—' : `${(stats.success_rate * 100).toFixed(stats.success_rate === 1 ? 0 : 1)} %`;
  return [
    h('div', {class: 'stat-row'},
      stat('finished (24 h)', String(stats.finished ?? 0), 'stat-finished'),
      stat('success rate', rate, 'stat-success-rate'),
      stat('median queue wait', formatDuration(stats.median_queue_wait_ms), 'stat-median-wait'),
      stat('median run time', formatDuration(stats.median_run_ms), 'stat-median-run')),
    h('section', {class: 'card'},
      h('div', {class: 'card-head'}, h('h2', {}, 'Finished per hour'),
        h('div', {class: 'legend'}, OUTCOMES.map((o) =>
          h('span', {}, h('span', {class: `swatch bar-${o}`}), `${o} ${stats[o] ?? 0}`)))),
      (stats.hours ?? []).length ? barChart(stats.hours) : h('p', {class: 'muted'}, 'No hours reported.')),
  ];
}

function liveSection(queue) {
  const r = queue.runners ?? {};
  const s = queue.by_state ?? {};
  return h('section', {class: 'card'}, h('h2', {}, 'Right now'),
    h('div', {class: 'stat-row compact'},
      h('a', {class: 'stat link', href: '#/queue'}, h('div', {class: 'stat-value'}, String(s.queued ?? 0)),
        h('div', {class: 'stat-label'}, 'queued')),
      h('a', {class: 'stat link', href: '#/jobs?state=running'}, h('div', {class: 'stat-value'},
        String((s.running ?? 0) + (s.leased ?? 0))), h('div', {class: 'stat-label'}, 'running')),
      h('a', {class: 'stat link', href: '#/runners'}, h('div', {class: 'stat-value'},
        String((r.idle ?? 0) + (r.busy ?? 0) + (r.draining ?? 0))), h('div', {class: 'stat-label'}, 'runners online')),
      h('a', {class: 'stat link', href: '#/runners'}, h('div', {class: 'stat-value'}, String(r.offline ?? 0)),
        h('div', {class: 'stat-label'}, 'runners offline'))));
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const statsBody = h('div', {}, h('p', {class: 'muted'}, 'Loading statistics…'));
  const liveBody = h('div', {});
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Overview'),
    h('span', {class: 'muted'}, 'last 24 hours')), status, statsBody, liveBody);
  let hadData = false;
  return poll(async () => {
    try {
      const [stats, queue] = await Promise.all([
        api.stats(24).catch((e) => {
          if (e instanceof ApiError && e.status === 404) return null;  // an older server
          throw e;
        }),
        api.queue(),
      ]);
      hadData = true;
      showLoadError(status, null);
      clear(statsBody).append(...(stats ? statsSection(stats)
        : [h('div', {id: 'stats-unavailable'}, notice('info', 'Stats unavailable: this server does not provide ',
          h('code', {}, 'GET /api/v1/stats'), ' yet. Upgrade the server to see jobs per hour, success rate and medians.'))]));
      clear(liveBody).append(liveSection(queue));
    } catch (e) {
      showLoadError(status, e, {hadData});
    }
  }, 10000);
}

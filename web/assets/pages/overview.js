// Overview: jobs finished per hour over the last 24 h by outcome (a stacked bar chart in
// inline SVG), success rate and medians from GET /api/v1/stats?hours=24, the agent jobs'
// cost per UTC day (its agent_by_day, when the server sends it), plus the live queue and
// runner counts. A server without /api/v1/stats (404) shows "stats unavailable".
import {ApiError, api} from '../api.js';
import {clear, formatCost, formatCount, formatDuration, h, notice, parseTime, svg} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

const OUTCOMES = ['succeeded', 'failed', 'canceled'];
const CHART = {width: 720, height: 240, left: 40, right: 8, top: 12, bottom: 28};
const COST_CHART = {...CHART, left: 58};  // room for "$0.015"

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

// 1, 2, 2.5, 5 times a power of ten, at least max: for dollars, which may be fractions.
function niceAmount(max) {
  if (!(max > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 2.5, 5, 10].map((step) => step * magnitude).find((v) => v >= max * (1 - 1e-9)) ?? 10 * magnitude;
}

// "$0.005", "$2.5": an axis label, as short as its value allows.
function axisDollars(value) {
  return value === 0 ? '$0' : `$${Number(value.toPrecision(3))}`;
}

// "Dec 1" for "2026-12-01" (a UTC day).
function dayLabel(day) {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(ms) ? day : new Date(ms).toLocaleDateString(undefined, {month: 'short', day: 'numeric', timeZone: 'UTC'});
}

// One bar per day, its height the cost; the number of agent jobs above it (Codex reports no
// cost, so a day of Codex jobs is a count over an empty bar).
export function agentCostChart(days) {
  const {width, height, left, right, top, bottom} = COST_CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const cost = (d) => (typeof d.cost_usd === 'number' && d.cost_usd > 0 ? d.cost_usd : 0);
  const yMax = niceAmount(Math.max(0, ...days.map(cost)));
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v) => top + plotH - (v / yMax) * plotH;
  const grid = [0, 1, 2, 3, 4].map((i) => {
    const value = (yMax / 4) * i;
    return [svg('line', {x1: left, x2: width - right, y1: y(value), y2: y(value), class: 'grid'}),
      svg('text', {x: left - 6, y: y(value) + 4, class: 'axis', 'text-anchor': 'end'}, axisDollars(value))];
  });
  const labelEvery = Math.max(1, Math.ceil(days.length / 7));
  const bars = days.map((d, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    const jobs = d.jobs ?? 0;
    const title = `${d.day}: ${formatCost(cost(d))}, ${jobs} agent job${jobs === 1 ? '' : 's'}, ` +
      `${formatCount(d.input_tokens ?? 0)} input / ${formatCount(d.output_tokens ?? 0)} output tokens`;
    const barTop = y(cost(d));
    return svg('g', {'data-day': d.day, 'data-cost': String(cost(d)), 'data-jobs': String(jobs)},
      cost(d) > 0 ? svg('rect', {x, width: barW, y: barTop, height: y(0) - barTop, class: 'bar bar-agent', rx: 1.5}) : null,
      jobs > 0 ? svg('text', {x: x + barW / 2, y: barTop - 4, class: 'bar-count', 'text-anchor': 'middle'}, String(jobs)) : null,
      // A hit area as tall as the plot, so a day with a tiny bar still shows its title.
      svg('rect', {x: left + i * slot, width: slot, y: top, height: plotH, fill: 'transparent'}, svg('title', {}, title)),
      (days.length - 1 - i) % labelEvery === 0
        ? svg('text', {x: x + barW / 2, y: height - bottom + 16, class: 'axis', 'text-anchor': 'middle'}, dayLabel(d.day))
        : null);
  });
  return svg('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', id: 'agent-cost-chart',
    'aria-label': `Agent jobs' cost per day over the last ${days.length} days (UTC)`}, grid, bars);
}

function agentSection(days) {
  const totalCost = days.reduce((sum, d) => sum + (typeof d.cost_usd === 'number' ? d.cost_usd : 0), 0);
  const totalJobs = days.reduce((sum, d) => sum + (d.jobs ?? 0), 0);
  const jobsText = (n) => `${formatCount(n)} job${n === 1 ? '' : 's'}`;
  const head = h('div', {class: 'card-head'}, h('h2', {}, `Agent cost per day (last ${days.length} days, UTC)`));
  if (totalJobs === 0 && totalCost === 0) {
    return h('section', {class: 'card', id: 'agent-cost'}, head,
      h('p', {class: 'muted', id: 'agent-cost-empty'}, `No agent jobs in the last ${days.length} days.`));
  }
  const today = days[days.length - 1] ?? {};
  head.append(h('div', {class: 'legend'},
    h('span', {id: 'agent-cost-today'}, `today: ${formatCost(today.cost_usd ?? 0)} · ${jobsText(today.jobs ?? 0)}`),
    h('span', {id: 'agent-cost-total'}, h('span', {class: 'swatch bar-agent'}),
      `${days.length} days: ${formatCost(totalCost)} · ${jobsText(totalJobs)}`)));
  return h('section', {class: 'card', id: 'agent-cost'}, head, agentCostChart(days));
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
    // A server from before agent jobs sends no agent_by_day: nothing to show then.
    Array.isArray(stats.agent_by_day) && stats.agent_by_day.length ? agentSection(stats.agent_by_day) : null,
  ].filter(Boolean);
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

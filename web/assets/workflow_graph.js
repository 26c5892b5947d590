// The job graph of a workflow run (layout: workflow_model.js layoutGraph): one button per
// job (per matrix combination), absolutely placed over an SVG that draws the needs as edges
// and the matrix groups as frames. Clicking a node selects it (onSelect(key)).
//
// The graph is built again only when the run's jobs change shape (a rerun keeps it); each
// refresh otherwise rewrites the nodes' contents in place, so keyboard focus stays put.
import {formatDuration, h, statePill, svg} from './dom.js';
import {jobDurationMs, layoutGraph} from './workflow_model.js';

function place(el, {x, y, width, height}) {
  // CSSOM, not a style attribute: the CSP allows no inline styles.
  Object.assign(el.style, {left: `${x}px`, top: `${y}px`, width: `${width}px`, height: `${height}px`});
  return el;
}

function nodeContent(entry) {
  const duration = jobDurationMs(entry);
  return [
    h('span', {class: 'wf-node-name', title: entry.name}, entry.name),
    h('span', {class: 'wf-node-foot'}, statePill(entry.state),
      h('span', {class: 'wf-node-time'}, duration === null ? '' : formatDuration(duration))),
  ];
}

export class WorkflowGraph {
  constructor({onSelect}) {
    this.onSelect = onSelect;
    this.shape = null;
    this.nodes = new Map();  // key -> button
    this.canvas = h('div', {class: 'wf-graph', id: 'wf-graph'});
    this.element = h('div', {class: 'wf-graph-wrap', role: 'group', 'aria-label': 'Job graph'}, this.canvas);
  }

  update(jobs, selectedKey) {
    const shape = JSON.stringify(jobs.map((j) => [j.key, j.job, j.needs]));
    if (shape !== this.shape) {
      this.shape = shape;
      this.build(jobs);
    }
    for (const entry of jobs) {
      const node = this.nodes.get(entry.key);
      node.replaceChildren(...nodeContent(entry));
      node.dataset.state = entry.state;
      node.className = `wf-node${entry.key === selectedKey ? ' selected' : ''}`;
      node.setAttribute('aria-pressed', entry.key === selectedKey ? 'true' : 'false');
      node.setAttribute('aria-label', `${entry.name}: ${entry.state}`);
    }
  }

  build(jobs) {
    const layout = layoutGraph(jobs);
    this.nodes.clear();
    const frames = layout.groups.filter((g) => g.matrix).map((g) => [
      svg('rect', {class: 'wf-group', x: g.x + 0.5, y: g.y + 0.5, width: g.width - 1, height: g.height - 1, rx: 10}),
      svg('text', {class: 'wf-group-title', x: g.x + 10, y: g.y + 17}, `${g.id} (${g.entries.length})`),
    ]);
    const edges = layout.edges.map((e) => svg('path', {class: 'wf-edge', d: e.d, dataset: {from: e.from, to: e.to}}));
    const drawing = svg('svg', {class: 'wf-edges', width: layout.width, height: layout.height,
      viewBox: `0 0 ${layout.width} ${layout.height}`, 'aria-hidden': 'true'}, frames, edges);
    const buttons = layout.nodes.map((n) => {
      const button = place(h('button', {type: 'button', class: 'wf-node',
        dataset: {key: n.entry.key, job: n.entry.job}, onclick: () => this.onSelect(n.entry.key)}), n);
      this.nodes.set(n.entry.key, button);
      return button;
    });
    this.canvas.replaceChildren(drawing, ...buttons);
    this.canvas.style.width = `${layout.width}px`;
    this.canvas.style.height = `${layout.height}px`;
  }
}

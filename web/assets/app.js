// The dashboard shell: sign-in, the navigation, and a hash router that mounts one page
// at a time. Routes:
//
//   #/signin            token form (also where a 401 anywhere lands, with a message)
//   #/overview          jobs per hour over 24 h, success rate, medians
//   #/runners           runners, live; "Add runner" for admins
//   #/runners/{id}      one runner: system, capabilities, usage, recent jobs, commands
//   #/queue             queued/running counts and why queued jobs wait
//   #/jobs?state=&label=&runner=   filterable job list
//   #/jobs/{id}         one job: spec, attempts, timings, live log; an agent job's transcript
//   #/workflows         workflow runs, live
//   #/workflows/{id}?job=KEY   one run: the job graph, the selected job's steps and their logs
//   #/schedules         scheduled jobs: next run, paused, last job; pause/resume
//   #/repos             repository mappings (admins)
//   #/tokens            API tokens: list, create, revoke (admins)
//
// A page module exports mount(container, {params, query}) and returns a cleanup function
// that stops its timers and sockets when the user leaves the page.
import {ApiError, isAdmin, request, session} from './api.js';
import {clear, h, notice, refreshAgo} from './dom.js';
import * as overviewPage from './pages/overview.js';
import * as runnersPage from './pages/runners.js';
import * as queuePage from './pages/queue.js';
import * as jobsPage from './pages/jobs.js';
import * as jobPage from './pages/job.js';
import * as workflowsPage from './pages/workflows.js';
import * as workflowRunPage from './pages/workflow_run.js';
import * as runnerPage from './pages/runner.js';
import * as schedulesPage from './pages/schedules.js';
import * as reposPage from './pages/repos.js';
import * as tokensPage from './pages/tokens.js';

// admin: only an admin token may read the page; its link is hidden for other tokens (the
// page itself still explains a 403 to whoever opens it).
const NAV = [
  {path: '/overview', title: 'Overview', page: overviewPage},
  {path: '/runners', title: 'Runners', page: runnersPage},
  {path: '/queue', title: 'Queue', page: queuePage},
  {path: '/jobs', title: 'Jobs', page: jobsPage},
  {path: '/workflows', title: 'Workflows', page: workflowsPage},
  {path: '/schedules', title: 'Schedules', page: schedulesPage},
  {path: '/repos', title: 'Repositories', page: reposPage, admin: true},
  {path: '/tokens', title: 'Tokens', page: tokensPage, admin: true},
];

// Pages below a list page: #/jobs/{id} under Jobs, #/runners/{id} under Runners, ...
const DETAIL_PAGES = [
  {pattern: /^\/jobs\/([^/]+)$/, page: jobPage, nav: '/jobs'},
  {pattern: /^\/workflows\/([^/]+)$/, page: workflowRunPage, nav: '/workflows'},
  {pattern: /^\/runners\/([^/]+)$/, page: runnerPage, nav: '/runners'},
];

let cleanup = null;
let signInMessage = null;  // why the user was sent to sign in (a 401), shown once

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/overview';
  const [path, queryText = ''] = raw.split('?');
  return {path, query: Object.fromEntries(new URLSearchParams(queryText))};
}

function resolve(path) {
  for (const detail of DETAIL_PAGES) {
    const match = path.match(detail.pattern);
    if (match) return {page: detail.page, nav: detail.nav, params: {id: decodeURIComponent(match[1])}};
  }
  const entry = NAV.find((n) => n.path === path);
  return entry ? {page: entry.page, nav: entry.path, params: {}} : null;
}

function shell(activeNav) {
  const nav = h('nav', {class: 'nav', 'aria-label': 'Main'},
    NAV.map((n) => h('a', {href: `#${n.path}`, class: n.path === activeNav ? 'active' : null,
      'aria-current': n.path === activeNav ? 'page' : null, dataset: n.admin ? {admin: 'true'} : null}, n.title)));
  // Known only after a request: hide the admin pages' links once the server says "not an admin".
  isAdmin().then((admin) => {
    if (admin === false) {
      for (const link of nav.querySelectorAll('a[data-admin]')) {
        if (!link.classList.contains('active')) link.hidden = true;
      }
    }
  });
  const signOut = h('button', {class: 'btn btn-ghost sign-out', type: 'button', onclick: () => {
    session.signOut();
    location.hash = '#/signin';
  }}, 'Sign out');
  const main = h('main', {class: 'content', id: 'content'});
  const layout = h('div', {class: 'layout'},
    h('header', {class: 'sidebar'},
      h('a', {class: 'brand', href: '#/overview'}, h('img', {src: '/assets/favicon.svg', alt: ''}), 'corral'),
      nav,
      h('div', {class: 'sidebar-foot'}, signOut)),
    main);
  return {layout, main};
}

function renderSignIn(root) {
  const input = h('input', {id: 'token', name: 'token', type: 'password', autocomplete: 'off',
    placeholder: 'crl_…', required: true, spellcheck: 'false'});
  const error = h('div', {class: 'form-error', role: 'alert'});
  const button = h('button', {class: 'btn btn-primary', type: 'submit'}, 'Sign in');
  const form = h('form', {class: 'signin-card', onsubmit: async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    clear(error);
    try {
      // Any read a user or admin token may do proves the token before we keep it.
      await request('/api/v1/runners', {token, signOutOn401: false});
      session.signIn(token);
      const next = sessionStorage.getItem('corral.next') || '#/overview';
      sessionStorage.removeItem('corral.next');
      location.hash = next;
    } catch (e) {
      const reasons = {
        0: 'The corral server is unreachable: check that it is running, then try again.',
        401: 'That token was not accepted (401): it is unknown, mistyped or revoked.',
        403: 'That token may not read jobs (403): a runner registration token cannot sign in; use a user or admin token.',
      };
      error.textContent = reasons[e.status] ?? (e instanceof ApiError ? e.message : String(e));
    } finally {
      button.disabled = false;
    }
  }},
  h('div', {class: 'signin-brand'}, h('img', {src: '/assets/favicon.svg', alt: ''}), 'corral'),
  h('h1', {}, 'Sign in'),
  signInMessage ? notice('warn', signInMessage) : null,
  h('label', {for: 'token'}, 'API token'),
  input,
  h('p', {class: 'hint'}, 'A user or admin token: ', h('code', {}, 'corral tokens create --kind user --name me'),
    ', or the admin token in the server\'s data directory. It is kept in this tab only.'),
  error,
  button);
  signInMessage = null;
  root.append(h('div', {class: 'signin'}, form));
  input.focus();
}

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const root = clear(document.getElementById('app'));
  const {path, query} = parseHash();
  if (path === '/signin' || !session.token) {
    if (path !== '/signin') sessionStorage.setItem('corral.next', location.hash);
    if (location.hash !== '#/signin') {
      history.replaceState(null, '', '#/signin');
    }
    document.title = 'Sign in · corral';
    renderSignIn(root);
    return;
  }
  const target = resolve(path);
  const {layout, main} = shell(target?.nav);
  root.append(layout);
  if (!target) {
    main.append(h('h1', {}, 'Not found'), notice('error', `There is no page ${path}. `,
      h('a', {href: '#/overview'}, 'Go to the overview.')));
    return;
  }
  document.title = `${NAV.find((n) => n.path === target.nav).title} · corral`;
  cleanup = target.page.mount(main, {params: target.params, query});
}

window.addEventListener('corral:unauthorized', (event) => {
  signInMessage = `Your session ended: the server refused the token (${event.detail}). Sign in again.`;
  if (location.hash.startsWith('#/signin')) {
    route();
  } else {
    sessionStorage.setItem('corral.next', location.hash);
    location.hash = '#/signin';  // hashchange routes
  }
});
window.addEventListener('hashchange', route);
setInterval(() => refreshAgo(), 1000);
route();

// The dashboard's client of corral's HTTP API. The token lives in sessionStorage (gone
// when the tab closes); every call sends it as a Bearer token. A 401 anywhere signs the
// user out: app.js listens for 'corral:unauthorized' and shows the sign-in page.

const TOKEN_KEY = 'corral.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  // status 0: the server could not be reached at all.
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One call: answers the Response and its body text (its bytes with binary: a log read from
// an offset may start or end inside a UTF-8 character), or throws ApiError with the server's
// message. request reads the body as JSON; api.agentEvents keeps it as text (NDJSON).
async function send(path, {method = 'GET', body, token = session.token, signOutOn401 = true,
  accept = 'application/json', binary = false} = {}) {
  const headers = {Accept: accept};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store'});
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'The corral server is unreachable; retrying.');
  }
  if (res.ok && binary) return {res, bytes: new Uint8Array(await res.arrayBuffer())};
  const text = await res.text();
  if (res.ok) return {res, text};
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const code = data?.error?.code ?? 'http_' + res.status;
  const message = data?.error?.message ?? `${res.status} ${res.statusText}`;
  if (res.status === 401 && signOutOn401) {
    session.signOut();
    window.dispatchEvent(new CustomEvent('corral:unauthorized', {detail: message}));
  }
  throw new ApiError(res.status, code, message);
}

export async function request(path, options) {
  const {text} = await send(path, options);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

export const api = {
  runners: () => request('/api/v1/runners'),
  queue: () => request('/api/v1/queue'),
  stats: (hours = 24) => request(`/api/v1/stats?hours=${hours}`),
  job: (id) => request(`/api/v1/jobs/${encodeURIComponent(id)}`),
  // An agent job's raw event stream (NDJSON) of the latest attempt that has one:
  // {text, attempt}. 404 when the job has none (yet).
  agentEvents: async (id) => {
    const {res, text} = await send(`/api/v1/jobs/${encodeURIComponent(id)}/events`,
      {accept: 'application/x-ndjson'});
    return {text, attempt: Number(res.headers.get('X-Corral-Attempt')) || null};
  },
  cancel: (id) => request(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, {method: 'POST', body: {}}),
  // A job's stored log from offset, of its latest attempt: {bytes, attempt, nextOffset, size,
  // complete} (complete: that attempt ended).
  jobLog: async (id, offset = 0) => {
    const {res, bytes} = await send(`/api/v1/jobs/${encodeURIComponent(id)}/logs?offset=${offset}`,
      {accept: 'text/plain', binary: true});
    const header = (name) => Number(res.headers.get(name));
    return {bytes, attempt: header('X-Corral-Attempt') || null, nextOffset: header('X-Corral-Next-Offset') || offset,
      size: header('X-Corral-Log-Size') || 0, complete: res.headers.get('X-Corral-Log-Complete') === 'true'};
  },
  jobs: ({state, label, runner, limit = 50, cursor} = {}) => {
    const query = new URLSearchParams();
    if (state) query.set('state', state);
    if (label) query.set('label', label);
    if (runner) query.set('runner', runner);
    query.set('limit', String(limit));
    if (cursor) query.set('cursor', cursor);
    return request(`/api/v1/jobs?${query}`);
  },

  runner: (id) => request(`/api/v1/runners/${encodeURIComponent(id)}`),
  drainRunner: (id) => request(`/api/v1/runners/${encodeURIComponent(id)}/drain`, {method: 'POST', body: {}}),
  resumeRunner: (id) => request(`/api/v1/runners/${encodeURIComponent(id)}/resume`, {method: 'POST', body: {}}),
  // Remote commands (drain, resume, restart, update): {commands: [...]} newest first. A
  // server without them answers 404, and the runner page leaves the section out.
  // Resource use over time: {every_s, samples: [{at, load_1m, memory_available_bytes,
  // disk_free_bytes, running}]}, one a minute, for up to 24 hours.
  runnerUsage: (id, hours = 24) =>
    request(`/api/v1/runners/${encodeURIComponent(id)}/usage?hours=${hours}`),
  runnerCommands: (id) => request(`/api/v1/runners/${encodeURIComponent(id)}/commands`),
  sendRunnerCommand: (id, type) =>
    request(`/api/v1/runners/${encodeURIComponent(id)}/commands`, {method: 'POST', body: {type}}),

  schedules: () => request('/api/v1/schedules'),
  pauseSchedule: (id) => request(`/api/v1/schedules/${encodeURIComponent(id)}/pause`, {method: 'POST', body: {}}),
  resumeSchedule: (id) => request(`/api/v1/schedules/${encodeURIComponent(id)}/resume`, {method: 'POST', body: {}}),

  repos: () => request('/api/v1/repos'),

  // Workflow runs (docs/workflows.md): {runs: [...]} newest first; one run with its jobs.
  workflowRuns: (limit = 50, cursor = null) =>
    request(`/api/v1/workflow-runs?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
  workflowRun: (id) => request(`/api/v1/workflow-runs/${encodeURIComponent(id)}`),
  cancelWorkflowRun: (id) =>
    request(`/api/v1/workflow-runs/${encodeURIComponent(id)}/cancel`, {method: 'POST', body: {}}),
  rerunFailedJobs: (id) =>
    request(`/api/v1/workflow-runs/${encodeURIComponent(id)}/rerun-failed`, {method: 'POST', body: {}}),

  tokens: () => request('/api/v1/tokens'),
  // {kind, name, tenant?} → the token with its secret in `token`, shown once.
  createToken: (body) => request('/api/v1/tokens', {method: 'POST', body}),
  revokeToken: (id) => request(`/api/v1/tokens/${encodeURIComponent(id)}`, {method: 'DELETE'}),
};

// Is the signed-in token an admin's? The API has no "who am I" route, so this asks an
// admin-only read that changes nothing (the tenant's settings): 200 admin, 403 not.
// Answers true, false, or null when it could not tell (the server unreachable); the
// answer is kept per token for the tab's life. Pages use it to offer admin actions; the
// server still decides, and a 403 is shown where it happens.
const adminAnswers = new Map();

export async function isAdmin() {
  const token = session.token;
  if (!token) return false;
  if (adminAnswers.has(token)) return adminAnswers.get(token);
  try {
    await request('/api/v1/tenant/settings');
    adminAnswers.set(token, true);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) adminAnswers.set(token, false);
    else return null;
  }
  return adminAnswers.get(token);
}

// The message a page shows for an admin-only read a user token made.
export function forbiddenMessage(what) {
  return `${what} are for admins: this page needs an admin token (the server answered 403). ` +
    'Sign out and sign in with an admin token to see them.';
}

// The WebSocket URL of a job's live log; browsers cannot set headers on a WebSocket, so
// the token goes in the query (the server accepts ?token= for exactly this).
export function logStreamUrl(jobId) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const token = encodeURIComponent(session.token ?? '');
  return `${scheme}://${location.host}/api/v1/jobs/${encodeURIComponent(jobId)}/logs/stream?token=${token}`;
}

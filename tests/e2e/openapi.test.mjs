// The API document as the real server hands it out (GET /api/v1/openapi.json):
//   - valid OpenAPI 3.1 by the official schema (@seriousme/openapi-schema-validator);
//   - every schema in it a valid JSON Schema 2020-12 (ajv, strict), which the official
//     schema does not check ("type": "strin" passes it);
//   - the server's real answers match it: a walk through the API (jobs, the runner protocol,
//     runners, schedules, repositories, settings, tokens, errors) checks each answer's status
//     is documented for its operation, its content type is documented, and a JSON body
//     validates against the documented schema with no undocumented fields.
// tests/unit/server/openapi_test.cpp checks that it covers every route the router serves.
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {Validator} from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import {Server, stopAll} from './harness.mjs';

const SCHEMAS_ID = 'corral-openapi-schemas';

// The document's "#/components/schemas/X" refs, pointing into one schema ajv knows by id.
function forAjv(schema) {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${SCHEMAS_ID}#/$defs/`));
}

function newAjv(document) {
  const ajv = new Ajv2020({strict: true, allowUnionTypes: true, allErrors: true});
  addFormats(ajv);
  ajv.addSchema({$id: SCHEMAS_ID, $defs: forAjv(document.components.schemas)});
  return ajv;
}

// "#/components/responses/NotFound" -> that object.
function deref(document, value) {
  let current = value;
  while (current && typeof current === 'object' && typeof current.$ref === 'string') {
    assert.ok(current.$ref.startsWith('#/'), `$ref ${current.$ref} is outside the document`);
    current = current.$ref.slice(2).split('/')
        .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce((node, key) => node?.[key], document);
    assert.ok(current !== undefined, `$ref ${value.$ref} does not resolve`);
  }
  return current;
}

function typeOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function admits(schema, value) {
  if (schema.type === undefined) return true;
  const types = [schema.type].flat();
  const type = typeOf(value);
  return types.includes(type) || (type === 'integer' && types.includes('number'));
}

// Fields of value the schema does not name (where it does not allow any), as paths.
function undocumentedFields(document, schemaOrRef, value, at = '', out = []) {
  const schema = deref(document, schemaOrRef);
  if (value === null || typeof value !== 'object' || !schema || typeof schema !== 'object') return out;
  const branches = [schema, ...(schema.allOf ?? []), ...[...(schema.oneOf ?? []), ...(schema.anyOf ?? [])]
      .filter((branch) => admits(deref(document, branch), value))].map((branch) => deref(document, branch));
  if (Array.isArray(value)) {
    const items = branches.find((branch) => branch.items)?.items;
    if (items) value.forEach((item, i) => undocumentedFields(document, items, item, `${at}[${i}]`, out));
    return out;
  }
  const properties = Object.assign({}, ...branches.map((branch) => branch.properties ?? {}));
  const additional = branches.find((branch) => branch.additionalProperties !== undefined)?.additionalProperties;
  const freeForm = additional === true || (Object.keys(properties).length === 0 && additional === undefined);
  for (const [key, field] of Object.entries(value)) {
    if (properties[key]) undocumentedFields(document, properties[key], field, `${at}.${key}`, out);
    else if (additional && typeof additional === 'object') undocumentedFields(document, additional, field, `${at}.${key}`, out);
    else if (!freeForm) out.push(`${at}.${key}`);
  }
  return out;
}

describe('the API document', () => {
  let server;
  let document;
  let ajv;
  const compiled = new Map();
  const exercised = new Set();

  before(async () => {
    server = await Server.start({heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 60000});
    const res = await fetch(`${server.url}/api/v1/openapi.json`);  // no token
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    document = await res.json();
    ajv = newAjv(document);
  });

  after(async () => {
    await stopAll();
    if (server) server.cleanup();
  });

  // Checks one answer against the document's operation (method, path template).
  function conforms(method, template, res, text) {
    const operation = document.paths[template]?.[method];
    assert.ok(operation, `${method.toUpperCase()} ${template} is not in the document`);
    exercised.add(`${method} ${template}`);
    const where = `${method.toUpperCase()} ${template} answered ${res.status}`;
    assert.ok(operation.responses[String(res.status)], `${where}, which the document does not list: ${text}`);
    const response = deref(document, operation.responses[String(res.status)]);
    if (!response.content) {
      assert.equal(text, '', `${where}: the document says it has no body`);
      return;
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const documented = Object.keys(response.content);
    assert.ok(documented.includes(mediaType) || documented.includes('*/*'),
        `${where} with ${mediaType}; the document says ${documented.join(', ')}`);
    if (mediaType !== 'application/json') return;
    const body = JSON.parse(text);
    const schema = response.content['application/json'].schema;
    const key = `${method} ${template} ${res.status}`;
    if (!compiled.has(key)) compiled.set(key, ajv.compile(forAjv(schema)));
    const validate = compiled.get(key);
    assert.ok(validate(body), `${where} with a body the document's schema refuses: ${ajv.errorsText(validate.errors)}\n${text}`);
    assert.deepEqual(undocumentedFields(document, schema, body), [], `${where} with fields the document does not name`);
  }

  // A request to template (with {params} filled in) whose answer must conform.
  async function call(method, template, {params = {}, query = '', token = server.adminToken, body, raw, headers = {}} = {}) {
    const target = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name])) + query;
    const res = await fetch(server.url + target, {
      method,
      headers: {
        ...(token ? {Authorization: `Bearer ${token}`} : {}),
        ...(body !== undefined ? {'Content-Type': 'application/json'} : {}),
        ...headers,
      },
      body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
    });
    const text = await res.text();
    conforms(method.toLowerCase(), template, res, text);
    const json = (res.headers.get('content-type') ?? '').startsWith('application/json') && text ? JSON.parse(text) : text;
    return {status: res.status, headers: res.headers, body: json};
  }

  test('is valid OpenAPI 3.1 by the official schema', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.ok(result.valid, `the validator refuses /api/v1/openapi.json:\n${JSON.stringify(result.errors, null, 2)}`);
    assert.equal(validator.version, '3.1');
  });

  test('the validator refuses a broken copy (the check above can fail)', async () => {
    const broken = structuredClone(document);
    delete broken.paths['/healthz'].get.responses['200'].description;
    const result = await new Validator().validate(broken);
    assert.equal(result.valid, false);
  });

  test('every schema in it is valid JSON Schema 2020-12', () => {
    // components.schemas compiled through their refs, and every schema written inline.
    for (const name of Object.keys(document.components.schemas)) ajv.compile({$ref: `${SCHEMAS_ID}#/$defs/${name}`});
    const inline = [];
    const walk = (node, at) => {
      if (!node || typeof node !== 'object') return;
      for (const [key, child] of Object.entries(node)) {
        if (key === 'schema' && child && typeof child === 'object') inline.push([at, child]);
        else walk(child, `${at}/${key}`);
      }
    };
    walk(document.paths, '#/paths');
    walk(document.components.parameters, '#/components/parameters');
    walk(document.components.headers, '#/components/headers');
    walk(document.components.responses, '#/components/responses');
    assert.ok(inline.length > 50, `found only ${inline.length} inline schemas`);
    for (const [at, schema] of inline) {
      assert.doesNotThrow(() => ajv.compile(forAjv(schema)), `the schema at ${at}`);
    }
    assert.throws(() => newAjv(document).compile({type: 'strin'}), /must be equal to one of the allowed values/);
  });

  test('the server answers as the document says', async () => {
    // The server itself.
    await call('GET', '/healthz', {token: null});
    const openapi = await call('GET', '/api/v1/openapi.json', {token: null});
    await call('GET', '/api/v1/openapi.json', {token: null, headers: {'If-None-Match': openapi.headers.get('etag')}});
    await call('GET', '/metrics', {token: null});
    const page = await call('GET', '/', {token: null});
    await call('GET', '/', {token: null, headers: {'If-None-Match': page.headers.get('etag')}});
    await call('GET', '/assets/{path}', {token: null, params: {path: 'app.js'}});
    await call('GET', '/assets/{path}', {token: null, params: {path: 'nope.js'}});

    // Tokens.
    const user = (await call('POST', '/api/v1/tokens', {body: {kind: 'user', name: 'openapi-user'}})).body;
    const registration = (await call('POST', '/api/v1/tokens', {
      body: {kind: 'runner', name: 'openapi-runners', labels: ['linux'], owner_only: false},
    })).body;
    await call('GET', '/api/v1/tokens');
    await call('GET', '/api/v1/tokens', {token: user.token});  // 403
    await call('POST', '/api/v1/tokens', {body: {kind: 'root', name: 'x'}});  // 422

    // Jobs.
    const job = (await call('POST', '/api/v1/jobs', {
      token: user.token,
      body: {name: 'openapi', command: ['echo', 'hi'], labels: ['linux'], env: {A: '1'}, secrets: {TOKEN: 's3cret'},
        retry: {backoff_s: [1], on: ['transient']}, repo: {url: 'https://x:y@github.com/acme/widgets.git', ref: 'main'},
        resources: {memory: '64m', cpus: 0.5}},
    })).body;
    await call('POST', '/api/v1/jobs', {body: {script: 'true'}, headers: {'Idempotency-Key': 'openapi-1'}});
    await call('POST', '/api/v1/jobs', {body: {script: 'true'}, headers: {'Idempotency-Key': 'openapi-1'}});  // 200
    const agentJob = (await call('POST', '/api/v1/jobs', {body: {agent: {cli: 'claude', prompt: 'review', max_turns: 3}}})).body;
    await call('POST', '/api/v1/jobs', {body: {command: ['true'], bogus: 1}});  // 422
    await call('POST', '/api/v1/jobs', {raw: '{"command": [', headers: {'Content-Type': 'application/json'}});  // 400
    await call('GET', '/api/v1/jobs', {token: null});  // 401
    await call('GET', '/api/v1/jobs', {query: '?limit=0'});  // 400
    await call('GET', '/api/v1/jobs', {query: '?limit=2'});
    await call('GET', '/api/v1/jobs/{id}', {params: {id: job.id}});
    await call('GET', '/api/v1/jobs/{id}', {params: {id: 'job_nope'}});  // 404
    await call('GET', '/api/v1/jobs/{id}/why', {params: {id: job.id}});
    await call('GET', '/api/v1/queue');
    await call('GET', '/api/v1/stats', {query: '?hours=2&days=3'});
    await call('GET', '/api/v1/jobs/{id}/events', {params: {id: job.id}});  // 404: none
    await call('POST', '/api/v1/jobs/{id}/cancel', {params: {id: agentJob.id}});
    await call('POST', '/api/v1/jobs/{id}/cancel', {params: {id: agentJob.id}});  // 409: ended

    // The runner protocol: register, heartbeat, claim, start, logs, events, finish.
    const registered = (await call('POST', '/api/v1/runners/register', {
      token: registration.token,
      body: {name: 'openapi-runner', labels: ['linux'], max_concurrent_jobs: 4, version: 'test',
        capabilities: {os: 'linux'}, system: {cpus: 2, memory_bytes: 1 << 30, disk_bytes: 1 << 30, hostname: 'h'}},
    })).body;
    const runner = {id: registered.runner_id};
    const secret = registered.secret;
    await call('POST', '/api/v1/runners/{id}/heartbeat', {params: runner, token: secret, body: {running: [], usage: {cpu: 0.1}}});
    await call('POST', '/api/v1/runners/{id}/heartbeat', {params: runner, token: 'crs_wrong', body: {}});  // 401
    const claimed = (await call('POST', '/api/v1/runners/{id}/claim', {params: runner, token: secret, body: {slots: 4, wait_ms: 0}})).body;
    const mine = claimed.jobs.find((c) => c.job_id === job.id);
    assert.ok(mine, `the claim did not take the labelled job: ${JSON.stringify(claimed)}`);
    assert.deepEqual(mine.secrets, {TOKEN: 's3cret'});
    const attempt = {job_id: job.id, attempt: mine.attempt};
    const attemptPath = '/api/v1/jobs/{job_id}/attempts/{attempt}';
    await call('POST', `${attemptPath}/start`, {params: attempt, token: secret});
    await call('POST', `${attemptPath}/start`, {params: {...attempt, attempt: 'x'}, token: secret});  // 400
    const bytes = {'Content-Type': 'application/octet-stream'};
    await call('POST', `${attemptPath}/logs`, {params: attempt, token: secret, query: '?offset=0', raw: 'hi\n', headers: bytes});
    await call('POST', `${attemptPath}/logs`, {params: attempt, token: secret, query: '?offset=100', raw: 'x', headers: bytes});  // 416
    await call('PUT', `${attemptPath}/events`, {params: attempt, token: secret, raw: '{"type":"result"}\n',
      headers: {'Content-Type': 'application/x-ndjson'}});
    await call('PUT', `${attemptPath}/steps`, {params: attempt, token: secret, body: {steps: []}});  // 422: not a workflow job
    await call('PUT', `${attemptPath}/steps`, {params: attempt, token: secret, body: {steps: 'all'}});  // 422: not a list
    await call('POST', `${attemptPath}/finish`, {params: attempt, token: secret, body: {state: 'succeeded', exit_code: 0, result: {summary: 'ok'}}});
    await call('POST', `${attemptPath}/finish`, {params: {...attempt, attempt: attempt.attempt + 1}, token: secret,
      body: {state: 'succeeded'}});  // 409: not the current attempt
    // Batches: several jobs in one submit; the starts and finishes of several attempts in one
    // report, the leftovers of the first claim among them.
    await call('POST', '/api/v1/jobs/batch', {body: {jobs: [{command: ['true']}, {script: 'true', labels: ['linux']}]}});
    await call('POST', '/api/v1/jobs/batch', {body: {jobs: [{command: ['true']}, {comand: ['x']}]}});  // 422
    const batchClaim = (await call('POST', '/api/v1/runners/{id}/claim', {params: runner, token: secret, body: {slots: 2, wait_ms: 0}})).body;
    const held = [...claimed.jobs.filter((c) => c.job_id !== job.id), ...batchClaim.jobs]
        .map((c) => ({job_id: c.job_id, attempt: c.attempt}));
    assert.ok(held.length >= 2, `nothing to report: ${JSON.stringify(batchClaim)}`);
    await call('POST', '/api/v1/runners/{id}/reports', {params: runner, token: secret, body: {
      start: held, finish: [...held.map((a) => ({...a, state: 'succeeded', exit_code: 0})), {...held[0], attempt: 99, state: 'failed'}],
    }});
    await call('POST', '/api/v1/runners/{id}/reports', {params: runner, token: secret, body: {finish: [{job_id: job.id}]}});  // 422
    await call('GET', '/api/v1/jobs/{id}/logs', {params: {id: job.id}, query: '?offset=0'});
    await call('GET', '/api/v1/jobs/{id}/events', {params: {id: job.id}});

    // Runners.
    await call('GET', '/api/v1/runners');
    await call('GET', '/api/runners');
    await call('GET', '/api/v1/runners/{id}', {params: runner});
    await call('POST', '/api/v1/runners/{id}/drain', {params: runner});
    await call('POST', '/api/v1/runners/{id}/drain', {params: runner, token: user.token});  // 403
    await call('POST', '/api/v1/runners/{id}/resume', {params: runner});
    await call('POST', '/api/v1/runners/{id}/commands', {params: runner, body: {type: 'drain'}});
    await call('POST', '/api/v1/runners/{id}/commands', {params: runner, body: {type: 'reboot'}});  // 422
    await call('POST', '/api/v1/runners/{id}/commands', {params: runner, body: {type: 'update'}});  // 409: no binary offered
    await call('GET', '/api/v1/runners/{id}/commands', {params: runner});
    await call('GET', '/api/v1/runner/binary', {token: secret});  // 404: none offered
    await call('GET', '/api/v1/runners/{id}/usage', {params: runner});
    await call('GET', '/api/v1/runners/{id}/usage', {params: runner, query: '?hours=0'});  // 400
    await call('GET', '/api/v1/me', {token: user.token});

    // Workflow runs: one job for a label no runner has, so it waits until canceled.
    const workflowYaml = 'name: docs\non: push\njobs:\n  build:\n    runs-on: [self-hosted, nowhere]\n' +
      '    steps:\n      - run: echo hi\n  after:\n    needs: build\n    runs-on: nowhere\n    steps:\n      - run: echo after\n';
    const workflowRun = (await call('POST', '/api/v1/workflow-runs', {token: user.token, body: {workflow: workflowYaml, event: 'push'}})).body;
    await call('POST', '/api/v1/workflow-runs', {token: user.token, body: {workflow: 'on: push\njobs: 7\n'}});  // 422
    await call('GET', '/api/v1/workflow-runs', {token: user.token, query: '?limit=1'});
    await call('GET', '/api/v1/workflow-runs', {token: user.token, query: '?cursor=nonsense'});  // 400
    await call('GET', '/api/v1/workflow-runs/{id}', {token: user.token, params: workflowRun});
    await call('POST', '/api/v1/workflow-runs/{id}/rerun-failed', {token: user.token, params: workflowRun});  // 409: unfinished
    await call('POST', '/api/v1/workflow-runs/{id}/cancel', {token: user.token, params: workflowRun});
    await call('GET', '/api/v1/workflow-runs/{id}', {token: user.token, params: {id: 'wfr_none'}});  // 404
    // GitHub's webhook: unsigned is 401 (the signed path is tests/integration/workflow_test.cpp).
    await call('POST', '/api/v1/hooks/github', {token: null, body: {repository: {full_name: 'acme/widgets'}},
      headers: {'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'openapi-1'}});

    // Schedules.
    const schedule = (await call('POST', '/api/v1/schedules', {
      token: user.token, body: {name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', job: {command: ['true']}},
    })).body;
    await call('POST', '/api/v1/schedules', {token: user.token, body: {name: 'nightly', cron: '0 2 * * *', job: {command: ['true']}}});  // 409
    await call('GET', '/api/v1/schedules', {token: user.token});
    await call('GET', '/api/v1/schedules/{id}', {token: user.token, params: {id: 'nightly'}});
    await call('POST', '/api/v1/schedules/{id}/pause', {token: user.token, params: schedule});
    await call('POST', '/api/v1/schedules/{id}/resume', {token: user.token, params: schedule});
    await call('DELETE', '/api/v1/schedules/{id}', {token: user.token, params: schedule});

    // Repositories and settings.
    const repo = {owner: 'acme', name: 'widgets'};
    await call('PUT', '/api/v1/repos/{owner}/{name}', {params: repo, body: {group: 'gpu', steward: {runner: 'openapi-runner'}}});
    await call('PUT', '/api/v1/repos/{owner}/{name}', {params: repo, body: {}});  // 422
    await call('GET', '/api/v1/repos');
    await call('GET', '/api/v1/repos/{owner}/{name}', {params: repo});
    await call('DELETE', '/api/v1/repos/{owner}/{name}', {params: repo});
    await call('GET', '/api/v1/repos/{owner}/{name}', {params: repo});  // 404
    await call('GET', '/api/v1/repos/{owner}/{name}', {params: {owner: 'a b', name: 'c'}});  // 400
    await call('GET', '/api/v1/me/settings', {token: user.token});
    await call('PUT', '/api/v1/me/settings', {token: user.token, body: {steward_fallback: true}});
    await call('GET', '/api/v1/tenant/settings');
    await call('PUT', '/api/v1/tenant/settings', {body: {refresh_timezone: 'Europe/Berlin'}});
    await call('PUT', '/api/v1/tenant/settings', {body: {refresh_timezone: 'Mars/Olympus'}});  // 422

    // Short answers (Prefer: return=minimal): each job as {id, state}, which the schemas admit.
    const minimal = {'Prefer': 'return=minimal'};
    const short = (await call('POST', '/api/v1/jobs', {body: {script: 'true'}, headers: minimal})).body;
    assert.deepEqual(Object.keys(short).sort(), ['id', 'state']);
    const shortBatch = (await call('POST', '/api/v1/jobs/batch', {body: {jobs: [{script: 'true'}]}, headers: minimal})).body;
    assert.deepEqual(Object.keys(shortBatch.jobs[0]).sort(), ['id', 'state']);

    // Removing things.
    await call('DELETE', '/api/v1/runners/{id}', {params: runner});
    await call('DELETE', '/api/v1/tokens/{id}', {params: {id: registration.id}});

    // Every JSON operation but the WebSocket stream was called.
    const notExercised = Object.entries(document.paths)
        .flatMap(([path, item]) => ['get', 'put', 'post', 'delete'].filter((m) => item[m]).map((m) => `${m} ${path}`))
        .filter((operation) => !exercised.has(operation) && operation !== 'get /api/v1/jobs/{id}/logs/stream');
    assert.deepEqual(notExercised, []);
  });
});

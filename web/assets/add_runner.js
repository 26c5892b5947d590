// "Add runner" on the runners page (admins): makes a runner registration token
// (POST /api/v1/tokens {kind: "runner"}) and shows how to start a runner with it, as Monk CI
// and GitLab do: the command line, the same as environment variables, and a .env for
// deploy/docker-compose.runner.yml. The secret is in the page once; it is never shown again.
import {ApiError, api} from './api.js';
import {clear, copyButton, h, notice} from './dom.js';

// Quotes a value for a POSIX shell only when it needs it.
export function shellQuote(value) {
  const text = String(value);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

// The settings a new runner starts with, in the order they are shown.
function settings({serverUrl, token, name, labels, group}) {
  const list = [
    ['RUNNER_SERVER_URL', 'server-url', serverUrl],
    ['RUNNER_TOKEN', 'token', token],
    ['RUNNER_NAME', 'name', name],
  ];
  if (labels) list.push(['RUNNER_LABELS', 'labels', labels]);
  if (group) list.push(['RUNNER_GROUP', 'group', group]);
  return list;
}

export function commandLine(values) {
  return ['corral runner', ...settings(values).map(([, flag, v]) => `--${flag} ${shellQuote(v)}`)].join(' \\\n  ');
}

export function environmentForm(values) {
  return [...settings(values).map(([env, , v]) => `export ${env}=${shellQuote(v)}`), 'corral runner'].join('\n');
}

// docker compose reads .env beside the compose file: plain KEY=value lines, no quoting.
export function dotEnv(values) {
  return settings(values).map(([env, , v]) => `${env}=${v}`).join('\n');
}

const COMPOSE_COMMAND = 'docker compose -f docker-compose.runner.yml up -d';

function block({title, what, text, id, hint}) {
  const pre = h('pre', {class: 'code command', id}, text);
  return h('div', {class: 'command-block'},
    h('div', {class: 'command-head'}, h('h3', {}, title), copyButton(pre, {what})),
    hint ? h('p', {class: 'hint'}, hint) : null,
    pre);
}

function isLoopback(hostname) {
  return hostname === 'localhost' || hostname === '::1' || hostname === '[::1]' || hostname.startsWith('127.');
}

// The result: the secret once, with the three ways to start a runner with it.
function instructions(created, values) {
  const secret = h('code', {class: 'secret', id: 'new-runner-token'}, created.token);
  const composeHint = isLoopback(location.hostname)
    ? ['In a container, ', h('code', {}, location.host), ' is the container itself: put an address of this ',
      'server that the runner\'s host can reach in RUNNER_SERVER_URL.']
    : null;
  return h('div', {class: 'add-runner-result', 'data-token-id': created.id},
    notice('warn', h('strong', {}, 'Copy the token now: it is not shown again. '),
      'Anyone holding it can register runners in tenant ', h('code', {}, created.tenant),
      ' until it is revoked (Tokens page).'),
    h('div', {class: 'secret-row'}, h('span', {class: 'muted'}, 'Registration token'), secret, copyButton(secret, {what: 'the registration token'})),
    block({title: 'Command line', what: 'the command line', text: commandLine(values), id: 'add-runner-command'}),
    block({title: 'Environment variables', what: 'the environment variables', text: environmentForm(values),
      id: 'add-runner-env'}),
    block({title: 'Docker Compose: .env', what: 'the .env file', text: dotEnv(values), id: 'add-runner-dotenv',
      hint: composeHint}),
    block({title: 'Docker Compose: start', what: 'the docker compose command', text: COMPOSE_COMMAND,
      id: 'add-runner-compose', hint: ['With ', h('code', {}, 'docker-compose.runner.yml'), ' from corral\'s ',
        h('code', {}, 'deploy/'), ' and the .env above in one directory.']}),
    h('p', {class: 'hint'}, 'The runner appears in the list below once it registers. Add ',
      h('code', {}, '--executor shell'), ' (RUNNER_EXECUTOR=shell) on a host without Docker or Podman; ',
      'docs/runner.md has every setting.'));
}

// The card with its form; hidden until the page's "Add runner" button opens it.
export function addRunnerPanel() {
  const nameInput = h('input', {id: 'add-runner-name', name: 'name', required: true, maxlength: 120,
    placeholder: 'build-box-1', autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z0-9][A-Za-z0-9_.@\\-]*',
    title: 'letters, digits and _.@- starting with a letter or digit (as the server requires)'});
  const labelsInput = h('input', {id: 'add-runner-labels', name: 'labels', placeholder: 'linux,docker',
    autocomplete: 'off', spellcheck: 'false'});
  const groupInput = h('input', {id: 'add-runner-group', name: 'group', placeholder: 'any', autocomplete: 'off',
    spellcheck: 'false'});
  const error = h('div', {class: 'form-error', role: 'alert'});
  const submit = h('button', {class: 'btn btn-primary', type: 'submit'}, 'Create registration token');
  const result = h('div', {});
  const form = h('form', {class: 'form-grid', id: 'add-runner-form', onsubmit: async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) return;
    const values = {serverUrl: location.origin, name,
      labels: labelsInput.value.split(',').map((l) => l.trim()).filter(Boolean).join(','),
      group: groupInput.value.trim()};
    submit.disabled = true;
    clear(error);
    try {
      const created = await api.createToken({kind: 'runner', name: `runner-${name}`});
      values.token = created.token;
      clear(result).append(instructions(created, values));
      form.hidden = true;
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 403
        ? 'Only an admin may make runner tokens here (403). Sign in with an admin token.'
        : (e.message || String(e));
    } finally {
      submit.disabled = false;
    }
  }},
  h('div', {class: 'field'}, h('label', {for: 'add-runner-name'}, 'Runner name'), nameInput),
  h('div', {class: 'field'}, h('label', {for: 'add-runner-labels'}, 'Labels (optional, comma-separated)'), labelsInput),
  h('div', {class: 'field'}, h('label', {for: 'add-runner-group'}, 'Group (optional)'), groupInput),
  h('div', {class: 'field field-actions'}, submit),
  error);
  const close = h('button', {class: 'btn btn-small btn-ghost', type: 'button', onclick: () => {
    panel.hidden = true;
    clear(result);
    form.hidden = false;
    form.reset();
  }}, 'Close');
  const panel = h('section', {class: 'card add-runner', id: 'add-runner', hidden: true,
    'aria-labelledby': 'add-runner-title'},
  h('div', {class: 'card-head'}, h('h2', {id: 'add-runner-title'}, 'Add a runner'), close),
  h('p', {class: 'hint'}, 'Makes a registration token for one runner and shows the command that starts it. ',
    'The runner reports its system and capabilities when it registers.'),
  form, result);
  const open = () => {
    panel.hidden = false;
    nameInput.focus();
  };
  return {panel, open};
}

// Tokens (#/tokens, admins): every API token (GET /api/v1/tokens, never a secret) with its
// kind, tenant, when it was made and by whom, when it was last used (when the server
// records it) and whether it is revoked; revoke (two clicks: DELETE /api/v1/tokens/{id}
// takes the runner tokens it made, their runners and its schedules with it) and create (the
// secret is shown once). Read when the page opens and after each change, not on a timer, so
// a revoke button's armed state is never redrawn away. A user token gets 403: the page says so.
import {ApiError, api, forbiddenMessage} from '../api.js';
import {agoElement, clear, confirmButton, copyButton, forbiddenNotice, formatDateTime, h, labelChips, notice,
  parseTime, tableHead, tableWrap} from '../dom.js';
import {showLoadError} from '../poll.js';

const KINDS = ['user', 'runner', 'admin'];

function policy(t) {
  const p = t.runner_policy;
  if (!p || Object.keys(p).length === 0) return t.kind === 'runner' ? h('span', {class: 'muted'}, 'none') : null;
  return h('span', {class: 'chips'},
    p.group ? h('span', {class: 'chip'}, `group=${p.group}`) : null,
    p.labels ? labelChips(p.labels) : null,
    p.owner_only ? h('span', {class: 'chip'}, 'owner-only') : null);
}

function when(text) {
  const ms = parseTime(text);
  return ms ? h('span', {title: formatDateTime(ms)}, agoElement(ms)) : h('span', {class: 'muted'}, '—');
}

function revokeSummary(answer) {
  const n = (list) => (Array.isArray(list) ? list.length : 0);
  const parts = [
    n(answer.revoked_runner_tokens) ? `${n(answer.revoked_runner_tokens)} runner token(s)` : null,
    n(answer.revoked_runners) ? `${n(answer.revoked_runners)} runner(s)` : null,
    n(answer.requeued_jobs) ? `${n(answer.requeued_jobs)} job(s) requeued` : null,
    n(answer.paused_schedules) ? `${n(answer.paused_schedules)} schedule(s) paused` : null,
  ].filter(Boolean);
  return `Revoked ${answer.token?.name ?? 'the token'}${parts.length ? ` and with it: ${parts.join(', ')}` : ''}.`;
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const result = h('div', {});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading tokens…'));
  const createCard = h('section', {class: 'card', id: 'token-create', hidden: true});
  const openCreate = h('button', {class: 'btn btn-primary', type: 'button', id: 'token-create-open',
    'aria-controls': 'token-create', hidden: true, onclick: () => {
      createCard.hidden = false;
      createCard.querySelector('input')?.focus();
    }}, 'Create token');
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Tokens'), h('div', {class: 'head-actions'}, openCreate)),
    status, result, createCard, body);
  let stopped = false;

  const kind = h('select', {id: 'token-kind', name: 'kind'}, KINDS.map((k) => h('option', {value: k}, k)));
  const name = h('input', {id: 'token-name', name: 'name', required: true, maxlength: 128, autocomplete: 'off',
    spellcheck: 'false', placeholder: 'ci-bot'});
  const tenant = h('input', {id: 'token-tenant', name: 'tenant', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'this token\'s tenant', pattern: '[a-z0-9][a-z0-9_\\-]{0,62}'});
  const error = h('div', {class: 'form-error', role: 'alert'});
  const submit = h('button', {class: 'btn btn-primary', type: 'submit'}, 'Create');
  createCard.append(
    h('div', {class: 'card-head'}, h('h2', {}, 'Create a token'),
      h('button', {class: 'btn btn-small btn-ghost', type: 'button', onclick: () => {
        createCard.hidden = true;
      }}, 'Close')),
    h('form', {class: 'form-grid', id: 'token-create-form', onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      clear(error);
      try {
        const request = {kind: kind.value, name: name.value.trim()};
        if (tenant.value.trim()) request.tenant = tenant.value.trim();
        const created = await api.createToken(request);
        const secret = h('code', {class: 'secret', id: 'created-token-secret'}, created.token);
        clear(result).append(h('section', {class: 'card', id: 'token-created'},
          notice('warn', h('strong', {}, 'Copy the token now: it is not shown again. '),
            `It is a ${created.kind} token of tenant ${created.tenant}, named ${created.name}.`),
          h('div', {class: 'secret-row'}, h('span', {class: 'muted'}, 'Token'), secret, copyButton(secret, {what: 'the token'})),
          h('button', {class: 'btn btn-small', type: 'button', onclick: () => clear(result)}, 'Done')));
        name.value = '';
        createCard.hidden = true;
        await load();
      } catch (e) {
        error.textContent = e.message || String(e);
      } finally {
        submit.disabled = false;
      }
    }},
    h('div', {class: 'field'}, h('label', {for: 'token-kind'}, 'Kind'), kind),
    h('div', {class: 'field'}, h('label', {for: 'token-name'}, 'Name'), name),
    h('div', {class: 'field'}, h('label', {for: 'token-tenant'}, 'Tenant (optional)'), tenant),
    h('div', {class: 'field field-actions'}, submit),
    error),
    h('p', {class: 'hint'}, 'user: submits and watches jobs; runner: registers runners (a registration token); ',
      'admin: everything, including this page.'));

  const revoke = async (t) => {
    try {
      const answer = await api.revokeToken(t.id);
      showLoadError(status, null);
      clear(result).append(notice('info', revokeSummary(answer)));
      await load();
    } catch (e) {
      showLoadError(status, e, {hadData: true});
    }
  };

  const row = (t) => {
    const revoked = parseTime(t.revoked_at);
    return h('tr', {class: revoked ? 'revoked' : null, dataset: {tokenId: t.id, tokenName: t.name, tokenKind: t.kind}},
      h('td', {class: 'name'}, t.name, h('div', {class: 'sub mono'}, t.id)),
      h('td', {}, h('span', {class: `pill kind-${t.kind}`}, t.kind)),
      h('td', {class: 'mono'}, t.tenant),
      h('td', {class: 'nowrap'}, when(t.created_at), t.created_by ? h('div', {class: 'sub mono'}, `by ${t.created_by}`) : null),
      h('td', {class: 'nowrap'}, 'last_used_at' in t ? when(t.last_used_at) : h('span', {class: 'muted', title: 'this server does not record it'}, 'not recorded')),
      h('td', {class: 'nowrap token-state'}, revoked
        ? h('span', {class: 'pill state-canceled', title: formatDateTime(revoked)}, 'revoked ', agoElement(revoked))
        : h('span', {class: 'pill status-idle'}, 'active')),
      h('td', {}, policy(t)),
      h('td', {}, revoked ? null : confirmButton({label: 'Revoke', armedLabel: 'Click again to revoke',
        attrs: {'aria-label': `Revoke ${t.name}`, title: 'also revokes the runner tokens it made, their runners, and pauses its schedules'},
        onConfirm: () => revoke(t)})));
  };

  const load = async () => {
    try {
      const {tokens} = await api.tokens();
      if (stopped) return;
      openCreate.hidden = false;
      showLoadError(status, null);
      const sorted = [...tokens].sort((a, b) => Boolean(a.revoked_at) - Boolean(b.revoked_at) ||
        (parseTime(b.created_at) ?? 0) - (parseTime(a.created_at) ?? 0));
      clear(body).append(tableWrap(h('table', {class: 'table', id: 'tokens-table'},
        tableHead(['Name', 'Kind', 'Tenant', 'Created', 'Last used', 'State', 'Runner policy', '']),
        h('tbody', {}, sorted.map(row)))),
      h('p', {class: 'hint'}, 'Secrets are never shown again after a token is made; revoke a lost one and make another.'));
    } catch (e) {
      if (stopped) return;
      if (e instanceof ApiError && e.status === 403) {
        clear(status);
        clear(body).append(forbiddenNotice(forbiddenMessage('Tokens')));
        return;
      }
      showLoadError(status, e, {hadData: false});
    }
  };
  load();
  return () => {
    stopped = true;
  };
}

// Repositories (#/repos, admins): each repository mapping of the tenant (GET /api/v1/repos):
// the group its jobs go to when they name none, its steward, where its nightly refresh
// clones from and when it last queued one. Changed with `corral repos set` (docs/api.md,
// "Repositories"). Re-read every 10 s. A user token gets 403: the page says so.
import {ApiError, api, forbiddenMessage} from '../api.js';
import {agoElement, clear, forbiddenNotice, h, parseTime, tableHead, tableWrap} from '../dom.js';
import {poll, showLoadError} from '../poll.js';

function steward(s) {
  if (!s) return h('span', {class: 'muted'}, 'none');
  if (s.runner) return h('span', {}, 'runner ', h('a', {href: `#/jobs?runner=${encodeURIComponent(s.runner)}`}, s.runner));
  if (s.group) return h('span', {}, 'any runner of group ', h('code', {}, s.group));
  return h('span', {class: 'muted'}, 'none');
}

function row(r) {
  return h('tr', {dataset: {repo: r.repo}},
    h('td', {class: 'name mono'}, r.repo),
    h('td', {}, r.group ? h('code', {}, r.group) : h('span', {class: 'muted'}, '—')),
    h('td', {}, steward(r.steward)),
    h('td', {class: 'mono'}, r.url || h('span', {class: 'muted'}, 'default')),
    h('td', {class: 'nowrap'}, r.last_auto_refresh_at ? agoElement(parseTime(r.last_auto_refresh_at))
      : h('span', {class: 'muted'}, 'never')),
    h('td', {class: 'nowrap'}, agoElement(parseTime(r.updated_at)), h('div', {class: 'sub mono'}, r.updated_by || '')));
}

export function mount(container) {
  const status = h('div', {class: 'page-status'});
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading repositories…'));
  container.append(h('div', {class: 'page-head'}, h('h1', {}, 'Repositories')), status, body);
  let hadData = false;
  let forbidden = false;
  return poll(async () => {
    if (forbidden) return;
    try {
      const {repos} = await api.repos();
      hadData = true;
      showLoadError(status, null);
      clear(body);
      if (repos.length === 0) {
        body.append(h('div', {class: 'empty'}, h('p', {}, 'No repository is mapped.'),
          h('p', {class: 'muted'}, 'Send a repository\'s jobs to a group, or give it a steward, with ',
            h('code', {}, 'corral repos set OWNER/NAME --group G [--steward-runner R]'), '.')));
        return;
      }
      body.append(tableWrap(h('table', {class: 'table', id: 'repos-table'},
        tableHead(['Repository', 'Group', 'Steward', 'Refresh clones from', 'Last auto refresh', 'Updated']),
        h('tbody', {}, repos.map(row)))),
      h('p', {class: 'hint'}, 'Change a mapping with ', h('code', {}, 'corral repos set'), ', remove it with ',
        h('code', {}, 'corral repos rm OWNER/NAME'), '.'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        forbidden = true;
        clear(status);
        clear(body).append(forbiddenNotice(forbiddenMessage('Repository mappings')));
        return;
      }
      showLoadError(status, e, {hadData});
    }
  }, 10000);
}

// /api/v1/repos: an admin's repository mappings (api/repo.h): the group a repository's jobs
// get when they name none, and its steward (server/steward.h). /api/v1/me/settings: what a
// user sets on their own token (UserSettings).
#include <regex>

#include "api/repo.h"
#include "server/auth_cache.h"
#include "server/context.h"

namespace corral {

Result<std::string> target_tenant(const Token& caller, const std::string& named) {
  if (named.empty()) return caller.tenant;
  static const std::regex kTenant("^[a-z0-9][a-z0-9_-]{0,62}$");
  if (!std::regex_match(named, kTenant)) {
    return make_error(ErrorCode::kInvalidSpec,
                      "field 'tenant': 1-63 lower-case letters, digits, _ or -");
  }
  return named;
}

namespace {

awaitable<Result<Token>> admin(ServerContext& ctx, const RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return caller;
  if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok()) {
    co_return make_error(ErrorCode::kForbidden,
                         "repository mappings are managed by admins: " + r.error().message);
  }
  co_return caller;
}

Result<std::string> path_repo(const RequestContext& req) {
  return normalize_repo_full_name(req.params.at("owner"), req.params.at("name"));
}

awaitable<Response> put_repo(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto full_name = path_repo(req);
  if (!full_name.ok()) co_return error_of(full_name.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  RepoMapping repo;
  if (auto parsed = parse_repo_mapping_body(*body, repo); !parsed.ok())
    co_return error_of(parsed.error());
  std::string named;
  if (body->contains("tenant") && !(*body)["tenant"].is_null()) {
    if (!(*body)["tenant"].is_string()) {
      co_return error_of(
          make_error(ErrorCode::kInvalidSpec, "field 'tenant': must be a tenant name"));
    }
    named = (*body)["tenant"].get<std::string>();
  }
  auto tenant = target_tenant(*caller, named);
  if (!tenant.ok()) co_return error_of(tenant.error());
  repo.tenant = *tenant;
  repo.full_name = *full_name;
  repo.created_at = repo.updated_at = ctx.clock.now_ms();
  repo.updated_by = caller->id;
  auto stored = co_await ctx.db([&] { return ctx.store.put_repo(repo); });
  if (!stored.ok()) co_return error_of(stored.error());
  co_return json_ok(to_json(*stored));
}

awaitable<Response> list_repos(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto tenant = target_tenant(*caller, req.query_value("tenant"));
  if (!tenant.ok()) co_return error_of(tenant.error());
  auto repos = co_await ctx.db([&] { return ctx.store.list_repos(*tenant); });
  if (!repos.ok()) co_return error_of(repos.error());
  json out = json::array();
  for (const auto& r : *repos) out.push_back(to_json(r));
  co_return json_ok({{"repos", out}});
}

awaitable<Response> get_repo(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto full_name = path_repo(req);
  if (!full_name.ok()) co_return error_of(full_name.error());
  auto tenant = target_tenant(*caller, req.query_value("tenant"));
  if (!tenant.ok()) co_return error_of(tenant.error());
  auto repo = co_await ctx.db([&] { return ctx.store.find_repo(*tenant, *full_name); });
  if (!repo.ok()) co_return error_of(repo.error());
  if (!repo->has_value()) {
    co_return error_of(
        make_error(ErrorCode::kNotFound, "no mapping for repository '" + *full_name +
                                             "' in this tenant; `corral repos` lists them"));
  }
  co_return json_ok(to_json(**repo));
}

awaitable<Response> delete_repo(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto full_name = path_repo(req);
  if (!full_name.ok()) co_return error_of(full_name.error());
  auto tenant = target_tenant(*caller, req.query_value("tenant"));
  if (!tenant.ok()) co_return error_of(tenant.error());
  auto repo = co_await ctx.db([&] { return ctx.store.delete_repo(*tenant, *full_name); });
  if (!repo.ok()) co_return error_of(repo.error());
  co_return json_ok(to_json(*repo));
}

awaitable<Response> get_settings(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  // From the store, not the auth cache: a PUT on another server shows at once.
  std::string id = caller->id;
  auto token = co_await ctx.db([&] { return ctx.store.get_token(id); });
  if (!token.ok()) co_return error_of(token.error());
  co_return json_ok(to_json(token->settings));
}

awaitable<Response> put_settings(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (!body->is_object()) {
    co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                  "body must be an object such as {\"steward_fallback\": true}"));
  }
  std::string id = caller->id;
  auto current = co_await ctx.db([&] { return ctx.store.get_token(id); });
  if (!current.ok()) co_return error_of(current.error());
  UserSettings settings = current->settings;
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (it.key() != "steward_fallback") {
      co_return error_of(make_error(
          ErrorCode::kInvalidSpec,
          "field '" + it.key() + "': unknown setting; the settings are: steward_fallback"));
    }
    if (!it.value().is_boolean()) {
      co_return error_of(
          make_error(ErrorCode::kInvalidSpec, "field 'steward_fallback': must be true or false"));
    }
    settings.steward_fallback = it.value().get<bool>();
  }
  auto token = co_await ctx.db([&] { return ctx.store.set_user_settings(id, settings); });
  if (!token.ok()) co_return error_of(token.error());
  AuthCache::instance().forget_token(id);
  co_return json_ok(to_json(token->settings));
}

}  // namespace

void add_repo_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::get, "/api/v1/repos",
             [&ctx](RequestContext& req) { return list_repos(ctx, req); });
  router.add(http::verb::put, "/api/v1/repos/{owner}/{name}",
             [&ctx](RequestContext& req) { return put_repo(ctx, req); });
  router.add(http::verb::get, "/api/v1/repos/{owner}/{name}",
             [&ctx](RequestContext& req) { return get_repo(ctx, req); });
  router.add(http::verb::delete_, "/api/v1/repos/{owner}/{name}",
             [&ctx](RequestContext& req) { return delete_repo(ctx, req); });
  router.add(http::verb::get, "/api/v1/me/settings",
             [&ctx](RequestContext& req) { return get_settings(ctx, req); });
  router.add(http::verb::put, "/api/v1/me/settings",
             [&ctx](RequestContext& req) { return put_settings(ctx, req); });
}

}  // namespace corral

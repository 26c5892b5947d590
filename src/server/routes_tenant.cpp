// /api/v1/tenant/settings: a tenant's own settings (api/tenant.h), read and set by an admin:
// for now the time zone of the nightly refresh (server/nightly_refresh.h).
#include "api/tenant.h"
#include "server/context.h"
#include "server/json_body.h"

namespace corral {

namespace {

awaitable<Result<Token>> tenant_admin(ServerContext& ctx, const RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return caller;
  if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok()) {
    co_return make_error(ErrorCode::kForbidden,
                         "tenant settings are managed by admins: " + r.error().message);
  }
  co_return caller;
}

awaitable<Response> get_tenant_settings(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await tenant_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto tenant = target_tenant(*caller, req.query_value("tenant"));
  if (!tenant.ok()) co_return error_of(tenant.error());
  auto settings = co_await ctx.db([&] { return ctx.store.get_tenant_settings(*tenant); });
  if (!settings.ok()) co_return error_of(settings.error());
  co_return json_ok(to_json(*settings, ctx.config.refresh_timezone));
}

awaitable<Response> put_tenant_settings(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await tenant_admin(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto r = require_object(*body, "{\"refresh_timezone\": \"Europe/Berlin\"}"); !r.ok()) {
    co_return error_of(r.error());
  }
  auto named = optional_string(*body, "tenant", req.query_value("tenant"));
  if (!named.ok()) co_return error_of(named.error());
  auto tenant = target_tenant(*caller, *named);
  if (!tenant.ok()) co_return error_of(tenant.error());
  // Read, change what the body names, write: fields it leaves out keep their values.
  auto current = co_await ctx.db([&] { return ctx.store.get_tenant_settings(*tenant); });
  if (!current.ok()) co_return error_of(current.error());
  TenantSettings settings = *current;
  if (auto parsed = parse_tenant_settings_body(*body, settings); !parsed.ok()) {
    co_return error_of(parsed.error());
  }
  settings.tenant = *tenant;
  settings.updated_at = ctx.clock.now_ms();
  settings.updated_by = caller->id;
  auto stored = co_await ctx.db([&] { return ctx.store.put_tenant_settings(settings); });
  if (!stored.ok()) co_return error_of(stored.error());
  co_return json_ok(to_json(*stored, ctx.config.refresh_timezone));
}

}  // namespace

void add_tenant_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::get, "/api/v1/tenant/settings",
             [&ctx](RequestContext& req) { return get_tenant_settings(ctx, req); });
  router.add(http::verb::put, "/api/v1/tenant/settings",
             [&ctx](RequestContext& req) { return put_tenant_settings(ctx, req); });
}

}  // namespace corral

// /api/v1/schedules: scheduled jobs (docs/schedules.md). The sweep that makes their jobs is in
// server.cpp; the tick rules in common/schedule_tick.h.
#include "server/context.h"

namespace corral {

namespace {

// Retry-After of a create over --max-schedules-per-tenant: only a delete frees a place.
constexpr int kScheduleQuotaRetryAfterS = 60;

awaitable<Response> create(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (body->is_object() && body->contains("job")) {
    if (auto r = check_submitted_secrets((*body)["job"]); !r.ok()) {
      co_return error_of(invalid_field(
          "job.secrets", "must be an object {NAME: value}; values are never shown again"));
    }
  }
  auto spec = parse_schedule_spec(*body);
  if (!spec.ok()) co_return error_of(spec.error());
  auto existing = co_await ctx.db([&] { return ctx.store.count_schedules(caller->tenant); });
  if (!existing.ok()) co_return error_of(existing.error());
  if (*existing >= ctx.config.max_schedules_per_tenant) {
    co_return error_of(too_many_requests(
        "tenant '" + caller->tenant + "' already has " + std::to_string(*existing) +
            " schedules, the server's limit (--max-schedules-per-tenant " +
            std::to_string(ctx.config.max_schedules_per_tenant) +
            "): delete schedules it no longer needs (corral schedule delete NAME), or ask the "
            "operator to raise the limit",
        kScheduleQuotaRetryAfterS));
  }
  Schedule schedule =
      new_schedule(caller->tenant, caller->id, std::move(spec.value()), ctx.clock.now_ms());
  auto created = co_await ctx.db([&] { return ctx.store.create_schedule(schedule); });
  if (!created.ok()) co_return error_of(created.error());
  co_return json_ok(to_json(*created), http::status::created);
}

awaitable<Response> list_schedules(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  auto schedules = co_await ctx.db([&] { return ctx.store.list_schedules(caller->tenant); });
  if (!schedules.ok()) co_return error_of(schedules.error());
  json out = json::array();
  for (const auto& s : *schedules) out.push_back(to_json(s));
  co_return json_ok({{"schedules", out}});
}

awaitable<Response> get_schedule(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto schedule = co_await ctx.db([&] { return ctx.store.get_schedule(caller->tenant, id); });
  if (!schedule.ok()) co_return error_of(schedule.error());
  co_return json_ok(to_json(*schedule));
}

awaitable<Response> delete_one(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  auto schedule = co_await ctx.db([&] { return ctx.store.delete_schedule(caller->tenant, id); });
  if (!schedule.ok()) co_return error_of(schedule.error());
  co_return json_ok(to_json(*schedule));
}

awaitable<Response> set_paused(ServerContext& ctx, RequestContext& req, bool paused) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  std::string id = req.params["id"];
  if (!paused) {
    // The jobs a schedule makes are its owner's: an owner whose token was revoked has none.
    auto current = co_await ctx.db([&] { return ctx.store.get_schedule(caller->tenant, id); });
    if (!current.ok()) co_return error_of(current.error());
    auto owner = co_await ctx.db([&] { return ctx.store.get_token(current->owner_token_id); });
    if (owner.ok() && owner->revoked_at > 0) {
      co_return error_of(
          make_error(ErrorCode::kConflict,
                     "schedule '" + current->spec.name + "' belongs to token " + owner->id +
                         ", which was revoked; create the schedule again with a live token"));
    }
  }
  auto schedule = co_await ctx.db([&] {
    return ctx.store.set_schedule_paused(caller->tenant, id, paused, ctx.clock.now_ms());
  });
  if (!schedule.ok()) co_return error_of(schedule.error());
  co_return json_ok(to_json(*schedule));
}

}  // namespace

void add_schedule_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/schedules",
             [&ctx](RequestContext& req) { return create(ctx, req); });
  router.add(http::verb::get, "/api/v1/schedules",
             [&ctx](RequestContext& req) { return list_schedules(ctx, req); });
  router.add(http::verb::get, "/api/v1/schedules/{id}",
             [&ctx](RequestContext& req) { return get_schedule(ctx, req); });
  router.add(http::verb::delete_, "/api/v1/schedules/{id}",
             [&ctx](RequestContext& req) { return delete_one(ctx, req); });
  router.add(http::verb::post, "/api/v1/schedules/{id}/pause",
             [&ctx](RequestContext& req) { return set_paused(ctx, req, true); });
  router.add(http::verb::post, "/api/v1/schedules/{id}/resume",
             [&ctx](RequestContext& req) { return set_paused(ctx, req, false); });
}

}  // namespace corral

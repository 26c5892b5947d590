// /api/v1/runners: registration, heartbeats, long-poll claims, and the registry views
// (also ADOS Work Runner's, /api/runners).
#include <spdlog/spdlog.h>

#include <charconv>

#include "api/ados.h"
#include "common/crypto.h"
#include "server/auth_cache.h"
#include "server/context.h"
#include "server/dispatch.h"
#include "server/json_body.h"
#include "store/shared_sql.h"

namespace corral {

namespace {

// The runners of the caller's tenant, for a user or admin token.
awaitable<Result<std::vector<Runner>>> list_callers_runners(ServerContext& ctx,
                                                            RequestContext& req) {
  auto caller = co_await authenticate_user(ctx, req);
  if (!caller.ok()) co_return caller.error();
  co_return co_await ctx.read([&] { return ctx.store.list_runners(caller->tenant); });
}

awaitable<Response> register_runner(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  if (auto r = require_kind(*caller, {TokenKind::kRunner}); !r.ok()) co_return error_of(r.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  auto reg = parse_runner_registration(*body);
  if (!reg.ok()) co_return error_of(reg.error());
  // The token's policy wins over what the runner declares (docs/security.md).
  const RunnerTokenPolicy& policy = caller->runner_policy;
  if (policy.group) reg->group = *policy.group;
  if (policy.labels) reg->labels = *policy.labels;
  if (policy.owner_only) reg->owner_only = true;
  std::string secret = make_runner_secret();
  auto runner = co_await ctx.db([&] {
    return ctx.store.register_runner(caller->tenant, caller->id, *reg, sha256_hex(secret),
                                     ctx.clock.now_ms());
  });
  if (!runner.ok()) co_return error_of(runner.error());
  AuthCache::instance().forget_runner(runner->id);  // its previous secret stops working now
  ctx.runner_snapshots->changed(caller->tenant);
  spdlog::info("runner {} ({}) registered, labels [{}]", runner->reg.name, runner->id,
               fmt::join(runner->reg.labels, ","));
  co_return json_ok({{"runner_id", runner->id},
                     {"secret", secret},
                     {"tenant", runner->tenant},  // the runner checks it (RUNNER_TENANT)
                     {"group", runner->reg.group},
                     {"labels", runner->reg.labels},
                     {"owner_only", runner->reg.owner_only},
                     {"draining", runner->draining},
                     {"heartbeat_interval_ms", ctx.config.heartbeat_interval_ms},
                     {"heartbeat_timeout_ms", ctx.config.heartbeat_timeout_ms}});
}

awaitable<Response> heartbeat(ServerContext& ctx, RequestContext& req) {
  auto runner = co_await authenticate_runner(ctx, req, req.params["id"]);
  if (!runner.ok()) co_return error_of(runner.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto r = require_object(*body, "{running, usage, draining}"); !r.ok())
    co_return error_of(r.error());
  HeartbeatReport report;
  if (body->contains("running")) {
    const auto& running = (*body)["running"];
    if (!running.is_array()) {
      co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                    "field 'running': must be an array of {job_id, attempt}"));
    }
    for (const auto& r : running) {
      if (!r.is_object() || !r.contains("job_id") || !r["job_id"].is_string() ||
          !r.contains("attempt") || !r["attempt"].is_number_integer()) {
        co_return error_of(
            make_error(ErrorCode::kInvalidSpec,
                       "field 'running': each entry must be {job_id: string, attempt: integer}"));
      }
      report.running.push_back({r["job_id"].get<std::string>(), r["attempt"].get<int>()});
    }
  }
  if (body->contains("usage") && (*body)["usage"].is_object()) report.usage = (*body)["usage"];
  auto draining = optional_bool(*body, "draining", false);
  if (!draining.ok()) co_return error_of(draining.error());
  report.draining = *draining;
  auto going_away = optional_bool(*body, "going_away", false);
  if (!going_away.ok()) co_return error_of(going_away.error());
  report.going_away = *going_away;
  report.usage_sample_every_ms = ctx.config.usage_sample_interval_ms;
  if (auto recorded = co_await record_command_results(ctx, runner->id, *body); !recorded.ok())
    co_return error_of(recorded.error());
  auto commands = co_await ctx.db([&] {
    return ctx.store.heartbeat(runner->id, report, ctx.clock.now_ms(),
                               ctx.config.heartbeat_timeout_ms);
  });
  if (!commands.ok()) co_return error_of(commands.error());
  // What /why says of a runner that is leaving, draining or unwell shows at once; plain
  // beats may wait for the next list (runner_snapshots.h).
  const json* health = report.usage.is_object() && report.usage.contains("health")
                           ? &report.usage["health"]
                           : nullptr;
  bool unwell = health && health->is_object() && health->value("state", "ok") != "ok";
  if (report.going_away || report.draining || unwell) ctx.runner_snapshots->changed(runner->tenant);
  json list = json::array();
  for (const auto& c : *commands) list.push_back(to_json(c));
  if (!report.going_away) {
    auto controls = co_await deliver_commands(ctx, runner->id);
    if (!controls.ok()) co_return error_of(controls.error());
    for (const auto& c : *controls) list.push_back(to_json(c));
  }
  co_return json_ok(
      {{"commands", list}, {"heartbeat_interval_ms", ctx.config.heartbeat_interval_ms}});
}

// A claim for no jobs (slots 0: the runner drains): parked until an admin's command for the
// runner comes, the wait ends or the runner hangs up; answers with the commands.
awaitable<Response> wait_for_commands(ServerContext& ctx, RequestContext& req, const Runner& runner,
                                      int64_t wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  auto waiter = ctx.waiters.park(co_await asio::this_coro::executor, runner, 1, true);
  bool hung_up = false;
  req.watch_hangup([&hung_up, waiter] {
    hung_up = true;
    waiter->timer.cancel();
  });
  // Any wake ends it: a command, a newer claim of the runner, the server stopping, the
  // runner deleted.
  while (!ctx.waiters.woken(waiter) && !hung_up && std::chrono::steady_clock::now() < deadline) {
    waiter->timer.expires_at(deadline);
    error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  // A drain's claim is never handed jobs (reserve passes over it).
  (void)ctx.waiters.unpark(waiter);
  json answer{{"jobs", json::array()}, {"commands", json::array()}};
  if (!hung_up) {
    auto controls = co_await deliver_commands(ctx, runner.id);
    if (!controls.ok()) co_return error_of(controls.error());
    for (const auto& c : *controls) answer["commands"].push_back(to_json(c));
  }
  co_return json_ok(answer);
}

awaitable<Response> claim(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate_runner(ctx, req, req.params["id"]);
  if (!caller.ok()) co_return error_of(caller.error());
  // Free slots and draining come from the store, not the auth cache.
  std::string runner_id = caller->id;
  auto runner = co_await ctx.db([&] { return ctx.store.get_runner(runner_id); });
  if (!runner.ok()) co_return error_of(runner.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto r = require_object(*body, "{slots, wait_ms}"); !r.ok()) co_return error_of(r.error());
  int slots = 1;
  int64_t wait_ms = 0;
  if (body->contains("slots")) {
    // As int64: a huge number must not wrap into a small one.
    if (!(*body)["slots"].is_number_integer() || (*body)["slots"].get<int64_t>() < 0) {
      co_return error_of(make_error(
          ErrorCode::kInvalidSpec,
          "field 'slots': must be a non-negative integer (0: no jobs, only remote commands)"));
    }
    slots = static_cast<int>(std::min<int64_t>((*body)["slots"].get<int64_t>(), 1024));
  }
  if (body->contains("wait_ms")) {
    if (!(*body)["wait_ms"].is_number_integer() || (*body)["wait_ms"].get<int64_t>() < 0) {
      co_return error_of(
          make_error(ErrorCode::kInvalidSpec, "field 'wait_ms': must be a non-negative integer"));
    }
    wait_ms = std::min<int64_t>((*body)["wait_ms"].get<int64_t>(), ctx.config.max_claim_wait_ms);
  }
  json jobs = json::array();
  if (slots == 0) co_return co_await wait_for_commands(ctx, req, *runner, wait_ms);
  int free_slots = runner->reg.max_concurrent_jobs - static_cast<int>(runner->running.size());
  if (free_slots <= 0 || runner->draining) co_return json_ok({{"jobs", jobs}});

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  // At most one parked claim per free slot: a newer claim supersedes the runner's oldest.
  auto waiter = ctx.waiters.park(co_await asio::this_coro::executor, *runner,
                                 static_cast<size_t>(free_slots), false, slots);
  // A runner that hangs up while parked (killed, or it gave up) takes nothing more: a job
  // leased to it now would wait for the lease to run out before anyone else could run it.
  bool hung_up = false;
  req.watch_hangup([&hung_up, waiter] {
    hung_up = true;
    waiter->timer.cancel();
  });
  Result<std::vector<ClaimedJob>> claimed = std::vector<ClaimedJob>{};
  std::optional<std::chrono::steady_clock::time_point> took_woken_job_at;  // for the metric
  for (;;) {
    auto wake = ctx.waiters.reset(waiter);
    if (!wake.handed.empty()) {
      // A submit leased us jobs (server/dispatch.h): answer with them, unless nobody listens.
      if (wake.job) ctx.waiters.job_available(*wake.job, waiter.get());  // pass it on
      if (hung_up) {
        co_await return_claims(ctx, runner->id, std::move(wake.handed));
        break;
      }
      claimed = std::move(wake.handed);
      took_woken_job_at = wake.at;
      break;
    }
    if (ctx.waiters.superseded(waiter)) break;  // answers empty: a newer claim holds the place
    if (ctx.waiters.commanded(waiter)) {
      if (wake.job) ctx.waiters.job_available(*wake.job, waiter.get());  // pass it on
      break;  // answers with the admin's command
    }
    if (hung_up) {
      if (wake.job) ctx.waiters.job_available(*wake.job, waiter.get());  // pass it on
      break;
    }
    claimed = co_await ctx.db([&]() -> Result<std::vector<ClaimedJob>> {
      TimeMs now = ctx.clock.now_ms();
      auto rule = claim_rule_for(ctx.store, ctx.config, *runner, now);
      if (!rule.ok()) return rule.error();
      return ctx.store.claim(runner->id, slots, now, ctx.config.heartbeat_timeout_ms, *rule);
    });
    if (!claimed.ok()) break;
    if (wake.job && !claimed->empty()) {
      if (std::none_of(claimed->begin(), claimed->end(),
                       [&](const ClaimedJob& c) { return c.job_id == wake.job->id; })) {
        // We were woken for a job but took another: pass the wake-up on.
        ctx.waiters.job_available(*wake.job, waiter.get());
      } else {
        took_woken_job_at = wake.at;
      }
    }
    if (!claimed->empty() || std::chrono::steady_clock::now() >= deadline) break;
    if (!ctx.waiters.woken(waiter) && !hung_up) {
      waiter->timer.expires_at(deadline);
      error_code ec;
      co_await waiter->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
  // Jobs handed to us after the last round (as we were answering): back to the queue.
  if (auto late = ctx.waiters.unpark(waiter); !late.empty()) {
    co_await return_claims(ctx, runner->id, std::move(late));
  }
  if (!claimed.ok()) co_return error_of(claimed.error());
  if (took_woken_job_at) {
    ctx.metrics.dispatch.observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - *took_woken_job_at)
                .count());
  }
  for (const auto& c : *claimed) jobs.push_back(to_json(c));
  json answer{{"jobs", jobs}};
  if (ctx.waiters.commanded(waiter) && !hung_up) {
    auto controls = co_await deliver_commands(ctx, runner->id);
    if (controls.ok()) {
      answer["commands"] = json::array();
      for (const auto& c : *controls) answer["commands"].push_back(to_json(c));
    }
  }
  co_return json_ok(answer);
}

}  // namespace

namespace {
// The runner {id} of the caller's tenant, for a user or admin token.
awaitable<Result<Runner>> callers_runner(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return caller.error();
  if (auto r = require_kind(*caller, {TokenKind::kAdmin, TokenKind::kUser}); !r.ok())
    co_return r.error();
  std::string id = req.params["id"];
  auto runner = co_await ctx.read([&] { return ctx.store.get_runner(id); });
  if (!runner.ok() || runner->tenant != caller->tenant) co_return no_runner(id);
  co_return runner;
}
}  // namespace

void add_runner_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/runners/register",
             [&ctx](RequestContext& req) { return register_runner(ctx, req); });
  router.add(http::verb::post, "/api/v1/runners/{id}/heartbeat",
             [&ctx](RequestContext& req) { return heartbeat(ctx, req); });
  router.add(http::verb::post, "/api/v1/runners/{id}/claim",
             [&ctx](RequestContext& req) { return claim(ctx, req); });

  router.add(http::verb::get, "/api/v1/runners",
             [&ctx](RequestContext& req) -> awaitable<Response> {
               auto runners = co_await list_callers_runners(ctx, req);
               if (!runners.ok()) co_return error_of(runners.error());
               json list = json::array();
               for (const auto& r : *runners) list.push_back(to_json(r));
               co_return json_ok({{"runners", list}});
             });
  // ADOS Work Runner's shape (api/ados.h): a bare array.
  router.add(http::verb::get, "/api/runners", [&ctx](RequestContext& req) -> awaitable<Response> {
    auto runners = co_await list_callers_runners(ctx, req);
    if (!runners.ok()) co_return error_of(runners.error());
    json list = json::array();
    for (const auto& r : *runners) list.push_back(to_ados_json(r));
    co_return json_ok(list);
  });

  router.add(http::verb::post, "/api/v1/runners/{id}/drain",
             [&ctx](RequestContext& req) -> awaitable<Response> {
               auto caller = co_await authenticate(ctx, req);
               if (!caller.ok()) co_return error_of(caller.error());
               if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok())
                 co_return error_of(r.error());
               std::string id = req.params["id"];
               auto runner =
                   co_await ctx.db([&] { return ctx.store.drain_runner(caller->tenant, id); });
               if (!runner.ok()) co_return error_of(runner.error());
               ctx.runner_snapshots->changed(caller->tenant);
               co_return json_ok(to_json(*runner));
             });

  router.add(http::verb::post, "/api/v1/runners/{id}/resume",
             [&ctx](RequestContext& req) -> awaitable<Response> {
               auto caller = co_await authenticate(ctx, req);
               if (!caller.ok()) co_return error_of(caller.error());
               if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok())
                 co_return error_of(r.error());
               // As a resume command: a runner that has heard of the drain drains itself,
               // and the command reaches its parked claim at once.
               auto sent = co_await send_runner_control(
                   ctx, new_runner_control(ctx, *caller, req.params["id"], "resume"));
               if (!sent.ok()) co_return error_of(sent.error());
               auto runner = co_await ctx.db([&] { return ctx.store.get_runner(sent->runner_id); });
               if (!runner.ok()) co_return error_of(runner.error());
               co_return json_ok(to_json(*runner));
             });

  router.add(
      http::verb::delete_, "/api/v1/runners/{id}",
      [&ctx](RequestContext& req) -> awaitable<Response> {
        auto caller = co_await authenticate(ctx, req);
        if (!caller.ok()) co_return error_of(caller.error());
        if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok())
          co_return error_of(r.error());
        std::string id = req.params["id"];
        auto removed = co_await ctx.db(
            [&] { return ctx.store.delete_runner(caller->tenant, id, ctx.clock.now_ms()); });
        if (!removed.ok()) co_return error_of(removed.error());
        AuthCache::instance().forget_runner(id);
        ctx.runner_snapshots->changed(caller->tenant);
        ctx.waiters.wake_all();  // its parked claims end (the store no longer knows the runner)
        spdlog::warn("runner {} ({}) deleted by {}; {} job(s) requeued", removed->first.reg.name,
                     id, caller->id, removed->second.size());
        co_await announce_requeued(ctx, caller->tenant, removed->second);
        json out = to_json(removed->first);
        out["requeued_jobs"] = removed->second;
        co_return json_ok(out);
      });

  router.add(http::verb::get, "/api/v1/runners/{id}",
             [&ctx](RequestContext& req) -> awaitable<Response> {
               auto runner = co_await callers_runner(ctx, req);
               if (!runner.ok()) co_return error_of(runner.error());
               co_return json_ok(to_json(*runner));
             });

  // The runner's resource use over time: one sample a minute from its heartbeats, kept a day.
  router.add(http::verb::get, "/api/v1/runners/{id}/usage",
             [&ctx](RequestContext& req) -> awaitable<Response> {
               auto runner = co_await callers_runner(ctx, req);
               if (!runner.ok()) co_return error_of(runner.error());
               // Samples are kept for a day.
               auto hours = query_int(req, "hours", 24, 1, 24);
               if (!hours.ok()) co_return error_of(hours.error());
               TimeMs since = ctx.clock.now_ms() - *hours * 3600'000;
               auto samples =
                   co_await ctx.read([&] { return ctx.store.runner_usage(runner->id, since); });
               if (!samples.ok()) co_return error_of(samples.error());
               json list = json::array();
               for (const auto& s : *samples) list.push_back(to_json(s));
               co_return json_ok({{"runner_id", runner->id},
                                  {"every_s", ctx.config.usage_sample_interval_ms / 1000},
                                  {"samples", list}});
             });
}

}  // namespace corral

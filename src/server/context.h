// What every route handler needs: the store (reached through a pool of threads that may
// block), the clock, the config, the parked claims, the log watchers and the events that
// reach both on every server.
#pragma once

#include "common/clock.h"
#include "net/asio.h"
#include "net/http_server.h"
#include "net/router.h"
#include "server/claim_waiters.h"
#include "server/config.h"
#include "server/events.h"
#include "server/log_hub.h"
#include "server/metrics.h"
#include "server/runner_snapshots.h"
#include "store/store.h"

namespace corral {

struct ServerContext {
  const ServerConfig& config;
  Store& store;
  Clock& clock;
  asio::thread_pool& store_pool;
  asio::thread_pool& read_pool;  // read(): store calls that only read
  ClaimWaiters& waiters;
  LogHub& logs;
  ServerEvents& events;  // job and log events, here and on the other servers
  ServerMetrics& metrics;
  // The tenants' runners as /queue and /why read them (runner_snapshots.h).
  std::shared_ptr<RunnerSnapshots> runner_snapshots = std::make_shared<RunnerSnapshots>();

  // Runs a store call off the I/O threads, timed (corral_store_operation_duration_seconds).
  template <typename F>
  auto db(F fn) -> awaitable<decltype(fn())> {
    return run_blocking(store_pool, timed(std::move(fn), metrics.store_pool_calls));
  }
  // The same for a call that only reads, on the read pool: writes waiting on the store's
  // writer (SQLite's group commit) may hold every thread of store_pool for a moment, and a
  // read queued behind them would wait for their commits although it needs none of them.
  template <typename F>
  auto read(F fn) -> awaitable<decltype(fn())> {
    return run_blocking(read_pool, timed(std::move(fn), metrics.read_pool_calls));
  }

 private:
  // fn, counted as waiting from now (every caller awaits at once) and as running on its
  // thread, and timed there.
  template <typename F>
  auto timed(F fn, ServerMetrics::PoolCalls& pool) {
    pool.waiting.fetch_add(1, std::memory_order_relaxed);
    return [fn = std::move(fn), &calls = metrics.store_calls, &pool]() mutable {
      pool.waiting.fetch_sub(1, std::memory_order_relaxed);
      pool.running.fetch_add(1, std::memory_order_relaxed);
      struct Done {
        ServerMetrics::PoolCalls& pool;
        ~Done() { pool.running.fetch_sub(1, std::memory_order_relaxed); }
      } done{pool};
      auto started = std::chrono::steady_clock::now();
      auto result = fn();
      calls.observe(
          {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      return result;
    };
  }
};

// ---- helpers shared by the route files

// The JSON body, or 400 naming what is wrong with it (not JSON, or nested deeper than 64
// levels: common/json_limits.h). An empty body is {}. Typed fields: server/json_body.h.
Result<json> parse_json_body(const RequestContext& req);
Response json_ok(const json& body, http::status status = http::status::ok);
// json_ok's body, for an answer built off the I/O threads.
std::string json_text(const json& body);
Response error_of(const Error& error);

// The caller's API token (401 when missing, unknown or revoked).
awaitable<Result<Token>> authenticate(ServerContext& ctx, const RequestContext& req);
// A user or admin token (401, 403 for other kinds).
awaitable<Result<Token>> authenticate_user(ServerContext& ctx, const RequestContext& req);
// 403 unless the token is of one of the kinds.
Result<void> require_kind(const Token& token, std::initializer_list<TokenKind> kinds);
// The runner whose secret the caller presents (401), optionally checked against the
// runner id in the path (403). Its identity may come from a cache a few seconds old: load
// the runner from the store for its live state (running attempts, draining).
awaitable<Result<Runner>> authenticate_runner(ServerContext& ctx, const RequestContext& req,
                                              const std::string& expected_runner_id = "");
// A new per-runner secret (only its hash is stored).
std::string make_runner_secret();
// A new API token secret ("crl_..."), and the Token that stores only its hash.
std::string make_token_secret();
Token make_token(TokenKind kind, const std::string& tenant, const std::string& name,
                 const std::string& secret, TimeMs now);

// Jobs an admin action put back in the queue (a runner deleted, a token revoked): their log
// watchers look again and parked claims here and on the other servers hear of them.
awaitable<void> announce_requeued(ServerContext& ctx, const std::string& tenant,
                                  const std::vector<std::string>& job_ids);
// Whether a token authenticated earlier still stands (not revoked), for long-lived
// connections; the answer may be as old as the auth cache's TTL on another server.
awaitable<bool> token_still_valid(ServerContext& ctx, const Token& token);

// The tenant an admin acts on: its own unless it names another (body "tenant" or ?tenant=),
// as admins do when they make tokens. A malformed name is a 422.
Result<std::string> target_tenant(const Token& caller, const std::string& named);

void add_token_routes(Router& router, ServerContext& ctx);
void add_runner_routes(Router& router, ServerContext& ctx);
void add_job_routes(Router& router, ServerContext& ctx);
void add_attempt_routes(Router& router, ServerContext& ctx);
void add_log_stream_routes(Router& router, ServerContext& ctx);
void add_schedule_routes(Router& router, ServerContext& ctx);
// GET /api/v1/openapi.json: the API document (web/openapi.json).
void add_openapi_routes(Router& router, ServerContext& ctx);
void add_dashboard_routes(Router& router, ServerContext& ctx);
// /api/v1/repos (admin: repository mappings) and /api/v1/me/settings (a user's own settings).
void add_repo_routes(Router& router, ServerContext& ctx);
// /api/v1/tenant/settings (admin: the tenant's own settings, api/tenant.h).
void add_tenant_routes(Router& router, ServerContext& ctx);
// GET /metrics (server/metrics.h).
void add_metrics_routes(Router& router, ServerContext& ctx);
// Remote commands to runners, and the runner binary the server offers
// (routes_runner_commands.cpp).
void add_runner_command_routes(Router& router, ServerContext& ctx);
// A heartbeat's acknowledgements of remote commands (its "command_results").
awaitable<Result<void>> record_command_results(ServerContext& ctx, const std::string& runner_id,
                                               const json& body);
// A new command of the given type from `caller` for a runner of the caller's tenant, made
// now, not yet stored: send_runner_control stores and delivers it.
RunnerControl new_runner_control(ServerContext& ctx, const Token& caller, std::string runner_id,
                                 std::string type);
// Stores an admin's command for a runner (drain also sets the runner's admin drain flag,
// resume clears it) and hands it to the runner's parked claim, if it has one.
awaitable<Result<RunnerControl>> send_runner_control(ServerContext& ctx, RunnerControl control);
// The runner's pending remote commands, now marked delivered, for a heartbeat or claim answer.
awaitable<Result<std::vector<RunnerCommand>>> deliver_commands(ServerContext& ctx,
                                                               const std::string& runner_id);

// Reads the tenant's runners for /queue and /why and keeps the list (runner_snapshots.h),
// e.g. a warm-up the sweep starts after a change (routes_jobs.cpp); `by` (a literal) is what
// started the read, for corral_runner_list_reads_total.
awaitable<void> refresh_runner_list(ServerContext& ctx, std::string tenant, uint64_t generation,
                                    const char* by);

// Queues a job of `owner`'s (routes_jobs.cpp): its repository's mapping applied, the
// tenant's quota checked, runners woken. A repeated idempotency key gets the first job.
awaitable<Result<CreateJobResult>> submit_job(ServerContext& ctx, const Token& owner, JobSpec spec,
                                              const std::string& idempotency_key);

// Workflow runs (routes_workflows.cpp): /api/v1/workflow-runs, and the advance of a run
// whose job changed (a finish, a cancel) or that the sweep finds unfinished.
void add_workflow_routes(Router& router, ServerContext& ctx);
awaitable<void> advance_workflow_run(ServerContext& ctx, const std::string& tenant,
                                     const std::string& run_id);
awaitable<void> sweep_workflow_runs(ServerContext& ctx);
// A discovery job (a webhook's or a schedule's, routes_hooks.cpp) reports what it read, in
// job.result: starts the workflows there that its event triggers, once per delivery and file.
// Called before the job's finish is stored, so no crash can finish it without its runs.
awaitable<void> start_discovered_workflows(ServerContext& ctx, const Job& job);
// A workflow job's steps as its runner reports them while they run: stored in its run
// (workflow::report_steps). False when the run did not take them (an old attempt's, or the
// job ended); a job that is not a workflow run's is refused (kInvalidSpec).
awaitable<Result<bool>> report_workflow_steps(ServerContext& ctx, const Job& job,
                                              const json& steps);
void add_hook_routes(Router& router, ServerContext& ctx);

}  // namespace corral

// GET /metrics: the Prometheus text format (server/metrics.h says what is in it).
#include <set>

#include "common/crypto.h"
#include "server/context.h"
#include "server/metrics.h"

namespace corral {

namespace {

// What the store holds, read at scrape time.
struct StoreFigures {
  std::map<std::string, QueueStats> queues;                   // by tenant
  std::map<std::string, std::map<std::string, int>> runners;  // tenant -> status -> count
};

Result<StoreFigures> read_store_figures(Store& store, TimeMs now) {
  // Every tenant that has a token: tenants exist through their tokens.
  auto tokens = store.list_tokens();
  if (!tokens.ok()) return tokens.error();
  std::set<std::string> tenants;
  for (const auto& token : *tokens) tenants.insert(token.tenant);
  StoreFigures figures;
  for (const auto& tenant : tenants) {
    auto stats = store.queue_stats(tenant, now);
    if (!stats.ok()) return stats.error();
    figures.queues[tenant] = std::move(*stats);
    auto runners = store.list_runners(tenant, RunnerListing::kBrief);  // status and health
    if (!runners.ok()) return runners.error();
    auto& by_status = figures.runners[tenant];
    for (auto status : {RunnerStatus::kIdle, RunnerStatus::kBusy, RunnerStatus::kDraining,
                        RunnerStatus::kOffline}) {
      by_status[std::string(to_string(status))] = 0;
    }
    by_status["error"] = 0;
    for (const auto& runner : *runners) ++by_status[shown_status(runner)];
  }
  return figures;
}

std::string label_set(const std::vector<std::string>& labels) {
  std::string out;
  for (const auto& label : labels) out += (out.empty() ? "" : ",") + label;
  return out;
}

void render_store_figures(MetricsText& out, const StoreFigures& figures, TimeMs now) {
  out.family("corral_jobs", "gauge", "Jobs in the store, by tenant and state.");
  for (const auto& [tenant, stats] : figures.queues)
    for (const auto& [state, count] : stats.by_state)
      out.sample("corral_jobs", {{"tenant", tenant}, {"state", state}}, static_cast<double>(count));
  out.family("corral_group_jobs", "gauge",
             "Unfinished jobs by tenant, group and state (queued; running = leased or running).");
  for (const auto& [tenant, stats] : figures.queues) {
    for (const auto& group : stats.by_group) {
      out.sample("corral_group_jobs",
                 {{"tenant", tenant}, {"group", group.group}, {"state", "queued"}},
                 static_cast<double>(group.queued));
      out.sample("corral_group_jobs",
                 {{"tenant", tenant}, {"group", group.group}, {"state", "running"}},
                 static_cast<double>(group.running));
    }
  }
  out.family("corral_queued_jobs_by_labels", "gauge",
             "Queued jobs by tenant and the label set they ask for (comma-separated, sorted).");
  for (const auto& [tenant, stats] : figures.queues)
    for (const auto& set : stats.by_labels)
      out.sample("corral_queued_jobs_by_labels",
                 {{"tenant", tenant}, {"labels", label_set(set.labels)}},
                 static_cast<double>(set.queued));
  out.family("corral_oldest_queued_job_age_seconds", "gauge",
             "How long the oldest queued job of a tenant has waited (0 when none waits).");
  for (const auto& [tenant, stats] : figures.queues) {
    double age = stats.oldest_queued_at > 0 ? (now - stats.oldest_queued_at) / 1000.0 : 0;
    out.sample("corral_oldest_queued_job_age_seconds", {{"tenant", tenant}}, std::max(0.0, age));
  }
  out.family("corral_runners", "gauge", "Registered runners by tenant and status.");
  for (const auto& [tenant, by_status] : figures.runners)
    for (const auto& [status, count] : by_status)
      out.sample("corral_runners", {{"tenant", tenant}, {"status", status}}, count);
}

}  // namespace

void add_metrics_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::get, "/metrics", [&ctx](RequestContext& req) -> awaitable<Response> {
    if (!ctx.config.metrics_token.empty()) {
      std::string auth = req.header(http::field::authorization);
      constexpr std::string_view kBearer = "Bearer ";
      bool ok = auth.starts_with(kBearer) &&
                constant_time_equal(std::string_view(auth).substr(kBearer.size()),
                                    ctx.config.metrics_token);
      if (!ok) {
        co_return error_of(make_error(
            ErrorCode::kUnauthorized,
            "this server's metrics need its metrics token: send 'Authorization: Bearer TOKEN' "
            "with the value of --metrics-token (Prometheus: authorization.credentials)"));
      }
    }
    TimeMs now = ctx.clock.now_ms();
    auto figures = co_await ctx.read([&] { return read_store_figures(ctx.store, now); });
    if (!figures.ok()) co_return error_of(figures.error());
    MetricsText out;
    out.family("corral_build_info", "gauge", "The server's version (the value is always 1).");
    out.sample("corral_build_info", {{"version", CORRAL_VERSION}}, 1);
    out.family("corral_parked_claims", "gauge",
               "Runner claims parked in a long-poll on this server, waiting for a job.");
    out.sample("corral_parked_claims", {}, static_cast<double>(ctx.waiters.parked()));
    out.family("corral_store_calls", "gauge",
               "Store calls on this server now, by thread pool (store: writes and the runner "
               "protocol; read: the read-only pages) and state (waiting for a thread, running).");
    for (const auto& [pool, calls] : {std::pair{"store", &ctx.metrics.store_pool_calls},
                                      std::pair{"read", &ctx.metrics.read_pool_calls}}) {
      out.sample("corral_store_calls", {{"pool", pool}, {"state", "waiting"}},
                 static_cast<double>(calls->waiting.load(std::memory_order_relaxed)));
      out.sample("corral_store_calls", {{"pool", pool}, {"state", "running"}},
                 static_cast<double>(calls->running.load(std::memory_order_relaxed)));
    }
    render_store_figures(out, *figures, now);
    ctx.metrics.registry.render(out);
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, kMetricsContentType);
    res.set(http::field::cache_control, "no-store");
    res.body() = out.text();
    res.prepare_payload();
    co_return res;
  });
}

}  // namespace corral

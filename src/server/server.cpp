#include "server/server.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "api/types.h"
#include "common/crypto.h"
#include "common/numbers.h"
#include "common/thread_name.h"
#include "server/nightly_refresh.h"
#include "server/pg_peers.h"
#include "server/steward.h"
#include "store/open_store.h"

namespace corral {

namespace {

// Names each of the pool's `threads` threads, as `top -H` and `perf` show them: one task per
// thread, each held until all have started, so that every thread gets one. The gate is
// shared: a thread woken by the last arrival may still be reading it after this function
// has returned (a std::latch on this stack was, and those threads then waited forever on
// the stack's next contents).
void name_pool_threads(asio::thread_pool& pool, int threads, const char* name) {
  struct Gate {
    std::mutex mu;
    std::condition_variable all_started;
    int left = 0;
  };
  auto gate = std::make_shared<Gate>();
  gate->left = threads;
  for (int i = 0; i < threads; ++i) {
    asio::post(pool, [gate, name] {
      name_this_thread(name);
      std::unique_lock lock(gate->mu);
      if (--gate->left == 0) gate->all_started.notify_all();
      gate->all_started.wait(lock, [&] { return gate->left == 0; });
    });
  }
  std::unique_lock lock(gate->mu);
  gate->all_started.wait(lock, [&] { return gate->left == 0; });
}

// Every open connection is a file descriptor, and the usual soft limit (1024) is far below
// --max-connections: raise the soft RLIMIT_NOFILE toward the hard one, as far as the
// connections and 256 more (the store, its pool, logs being written) need. The hard limit is the
// operator's (ulimit -Hn, systemd LimitNOFILE=); past it we only warn.
void raise_file_limit(int64_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + 256;
  const rlim_t before = limit.rlim_cur;
  if (limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != before)
    spdlog::info("file limit (RLIMIT_NOFILE) raised from {} to {}", before, limit.rlim_cur);
  if (limit.rlim_cur < wanted) {
    spdlog::warn(
        "the file limit is {} (hard limit {}): fewer than --max-connections ({}) plus 256; "
        "connections past it wait in the listen backlog. Raise the hard limit (ulimit -Hn, "
        "systemd LimitNOFILE=) or lower --max-connections",
        limit.rlim_cur, limit.rlim_max, max_connections);
  }
}

// glibc gives each thread that allocates its own heap arena, up to eight per core, and
// keeps what each arena once held: with 32 store threads reading thousands of runners the
// server's RSS grew past twice what it used. A few arenas keep the memory reused.
// MALLOC_ARENA_MAX in the environment still decides when set. The corral binary normally
// allocates through tcmalloc (CMakeLists.txt, CORRAL_TCMALLOC), whose per-thread caches
// neither contend nor keep an arena per thread, and which ignores this; it matters for a
// build without it.
void bound_malloc_arenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 4);
}

}  // namespace

Server::Server(ServerConfig config, Clock& clock) : config_(std::move(config)), clock_(clock) {}

Server::~Server() {
  stop();
  if (store_pool_) store_pool_->join();
  if (read_pool_) read_pool_->join();
}

Result<void> Server::start() {
  if (config_.nightly_refresh) {
    auto zone = TimeZone::load(config_.refresh_timezone);
    if (!zone.ok()) {
      return make_error(ErrorCode::kBadRequest, "--refresh-timezone: " + zone.error().message +
                                                    " (use a name such as Europe/Berlin or UTC)");
    }
    refresh_zone_ = zone.value();
  }
  std::error_code fs_ec;
  std::filesystem::create_directories(config_.data_dir, fs_ec);
  if (fs_ec) {
    return make_error(ErrorCode::kIo,
                      "cannot create data dir " + config_.data_dir + ": " + fs_ec.message());
  }
  OpenStoreOptions options;
  options.store = config_.store;
  options.data_dir = config_.data_dir;
  options.sqlite_synchronous_full = config_.sqlite_synchronous_full;
  options.log_max_bytes = config_.log_max_bytes;
  options.postgres_pool_size = config_.store_pool_size;
  auto location = parse_store_location(config_.store, config_.data_dir);
  if (!location.ok()) return location.error();
  auto store = open_store(options);
  if (!store.ok()) return store.error();
  store_ = std::move(store.value());
  store_pool_ = std::make_unique<asio::thread_pool>(config_.store_threads);
  read_pool_ = std::make_unique<asio::thread_pool>(config_.read_threads);
  name_pool_threads(*store_pool_, config_.store_threads, "corral-store");
  name_pool_threads(*read_pool_, config_.read_threads, "corral-read");
  // Servers sharing a PostgreSQL database tell each other about jobs and logs through it.
  std::unique_ptr<Peers> peers;
  if (location->kind == StoreLocation::Kind::kPostgres)
    peers = std::make_unique<PgPeers>(location->target);
  events_ = std::make_unique<ServerEvents>(waiters_, logs_, *store_, *store_pool_, clock_,
                                           std::move(peers));
  ctx_ = std::make_unique<ServerContext>(ServerContext{
      config_, *store_, clock_, *store_pool_, *read_pool_, waiters_, logs_, *events_, metrics_});
  CORRAL_TRY(bootstrap_admin());

  router_.add(http::verb::get, "/healthz", [this](RequestContext&) -> awaitable<Response> {
    co_return json_ok({{"status", "ok"},
                       {"version", CORRAL_VERSION},
                       {"parked_claims", waiters_.parked()},
                       {"shared_store", events_->shared()}});
  });
  add_token_routes(router_, *ctx_);
  add_runner_routes(router_, *ctx_);
  add_job_routes(router_, *ctx_);
  add_attempt_routes(router_, *ctx_);
  add_log_stream_routes(router_, *ctx_);
  add_schedule_routes(router_, *ctx_);
  add_repo_routes(router_, *ctx_);
  add_tenant_routes(router_, *ctx_);
  add_openapi_routes(router_, *ctx_);
  add_dashboard_routes(router_, *ctx_);
  add_metrics_routes(router_, *ctx_);
  add_runner_command_routes(router_, *ctx_);
  add_workflow_routes(router_, *ctx_);
  add_hook_routes(router_, *ctx_);

  auto colon = config_.listen.rfind(':');
  if (colon == std::string::npos) {
    return make_error(ErrorCode::kBadRequest, "--listen must be host:port, e.g. 127.0.0.1:8080");
  }
  std::string host = config_.listen.substr(0, colon);
  int port = parse_number<int>(std::string_view(config_.listen).substr(colon + 1)).value_or(-1);
  if (port < 0 || port > 65535)
    return make_error(ErrorCode::kBadRequest, "--listen has a bad port: " + config_.listen);
  raise_file_limit(config_.max_connections);
  bound_malloc_arenas();
  HttpServerOptions http_options;
  http_options.body_limit = config_.body_limit;
  http_options.body_limit_for = [](std::string_view target) -> std::optional<size_t> {
    // PUT /api/v1/jobs/{id}/attempts/{n}/events: a runner's upload of an agent's events.
    constexpr std::string_view kEvents = "/events";
    if (target.size() > kEvents.size() &&
        target.substr(target.size() - kEvents.size()) == kEvents &&
        target.find("/attempts/") != std::string_view::npos) {
      return kMaxAgentEventsBytes;
    }
    // POST .../attempts/{n}/logs?offset=N: a runner's log chunk, up to 1 MiB when it has a
    // backlog, whatever the general limit (a lower one would only cost it more requests).
    if (target.find("/attempts/") != std::string_view::npos &&
        target.find("/logs?") != std::string_view::npos) {
      return kMaxLogChunkBytes;
    }
    return std::nullopt;
  };
  http_options.idle_timeout = std::chrono::milliseconds(config_.idle_timeout_ms);
  http_options.max_connections = static_cast<size_t>(config_.max_connections);
  http_options.on_answer = [this](const AnsweredRequest& answered) {
    std::string method(http::to_string(answered.method));
    // Requests no route matched are counted under one name, not under their paths.
    std::string route = answered.route.empty() ? "(none)" : std::string(answered.route);
    metrics_.http_requests.add({method, route, std::to_string(answered.status)});
    metrics_.http_duration.observe({method, route}, answered.seconds);
  };
  http_ = std::make_unique<HttpServer>(io_, router_, http_options);
  auto bound = http_->listen(host, static_cast<uint16_t>(port));
  if (!bound.ok()) return bound.error();
  url_ = "http://" + bound->address().to_string() + ":" + std::to_string(bound->port());
  // Tests and scripts find the port here (also when --listen used port 0).
  std::ofstream(std::filesystem::path(config_.data_dir) / "server.url") << url_ << "\n";
  // Runners could not reach us while we were down: give them one heartbeat timeout to renew
  // their leases before the sweep judges any (docs/operations.md, Leases after a restart).
  lease_grace_until_ = clock_.now_ms() + config_.heartbeat_timeout_ms;
  spdlog::info("leases are not expired before {} ms from now (one heartbeat timeout after start)",
               config_.heartbeat_timeout_ms);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
  return {};
}

Result<void> Server::bootstrap_admin() {
  auto admins = store_->count_active_tokens(TokenKind::kAdmin);
  if (!admins.ok()) return admins.error();
  std::string secret = config_.admin_token;
  if (!secret.empty()) {
    // CORRAL_ADMIN_TOKEN: make sure that token exists (it may have been set after first start).
    auto found = store_->find_token_by_hash(sha256_hex(secret));
    if (!found.ok()) return found.error();
    if (found.value()) return {};
  } else if (*admins > 0) {
    return {};
  } else {
    secret = make_token_secret();
    new_admin_token_ = secret;
  }
  CORRAL_TRY(store_->insert_token(
      make_token(TokenKind::kAdmin, "default", "admin", secret, clock_.now_ms())));
  if (!new_admin_token_.empty()) {
    auto path = std::filesystem::path(config_.data_dir) / "admin.token";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return make_error(ErrorCode::kIo, "cannot write " + path.string());
    std::string line = secret + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::fchmod(fd, 0600);
    ::close(fd);
    if (!ok) return make_error(ErrorCode::kIo, "cannot write " + path.string());
  }
  return {};
}

Result<std::string> Server::create_token(TokenKind kind, const std::string& tenant,
                                         const std::string& name) {
  std::string secret = make_token_secret();
  CORRAL_TRY(store_->insert_token(make_token(kind, tenant, name, secret, clock_.now_ms())));
  return secret;
}

awaitable<void> Server::sweep_loop() {
  TimeMs last_safety = clock_.now_ms();  // a claim that parks has just looked at the queue itself
  TimeMs last_schedules = 0;
  TimeMs last_refresh = 0;
  TimeMs last_workflows = 0;
  TimeMs last_fold = 0;
  while (!stopping_) {
    sweep_timer_.expires_after(std::chrono::milliseconds(config_.sweep_interval_ms));
    error_code ec;
    co_await sweep_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (stopping_) break;
    TimeMs now = clock_.now_ms();
    // While the store is down, and during the grace period after a start or an outage, the
    // sweep only checks that the store answers: runners whose heartbeats could not get
    // through must not lose their jobs for it.
    bool in_grace = store_down_ || now < lease_grace_until_;
    Result<LeaseSweep> swept = LeaseSweep{};
    if (in_grace) {
      auto probe =
          co_await ctx_->db([&] { return store_->count_active_tokens(TokenKind::kAdmin); });
      if (!probe.ok()) swept = probe.error();
    } else {
      swept = co_await ctx_->db([&] { return store_->expire_leases(now); });
    }
    // While the database is down every sweep fails: say so once, and once when it is back.
    if (!swept.ok() && !store_down_) {
      store_down_ = true;
      spdlog::error("the store is unavailable, requests get 503 until it is back: {}",
                    swept.error().message);
    } else if (swept.ok() && store_down_) {
      store_down_ = false;
      lease_grace_until_ = now + config_.heartbeat_timeout_ms;
      spdlog::info(
          "the store is back; leases are not expired before {} ms from now (one heartbeat timeout)",
          config_.heartbeat_timeout_ms);
    }
    if (store_down_) continue;
    if (swept.ok() && swept->lost_attempts > 0) {
      metrics_.attempts_lost.add({}, swept->lost_attempts);
      spdlog::warn("{} lease(s) expired; {} job(s) requeued", swept->lost_attempts,
                   swept->requeued_job_ids.size());
      // Log watchers follow the next attempt, or end when the job failed for good.
      for (const auto& id : swept->requeued_job_ids) events_->job_changed(id);
      if (static_cast<size_t>(swept->lost_attempts) > swept->requeued_job_ids.size())
        events_->all_jobs_changed();
      if (!swept->requeued_job_ids.empty()) events_->jobs_requeued();
    }
    if (!in_grace) {
      auto offline = co_await ctx_->db(
          [&] { return store_->mark_stale_runners_offline(now - config_.heartbeat_timeout_ms); });
      if (offline.ok()) {
        if (!offline->empty()) ctx_->runner_snapshots->changed_all();
        for (const auto& id : *offline)
          spdlog::warn("runner {} is offline: no heartbeat for {} ms", id,
                       config_.heartbeat_timeout_ms);
      }
    }
    // The runner lists of /queue and /why, read again in the background after a change to a
    // tenant's runners: the first page view after a fleet registers finds its list read.
    for (auto& [tenant, generation] : ctx_->runner_snapshots->due_warmups(now)) {
      asio::co_spawn(io_, refresh_runner_list(*ctx_, std::move(tenant), generation, "warmup"),
                     asio::detached);
    }
    // The job counts' pending changes (PostgreSQL), folded once a second: the counts are
    // exact either way, the fold keeps reading them cheap.
    if (now - last_fold >= 1000) {
      last_fold = now;
      auto folded = co_await ctx_->db([&] { return store_->fold_job_counts(); });
      if (!folded.ok()) spdlog::warn("job counts: {}", folded.error().message);
    }
    // Scheduled jobs: cron has minute resolution, so once a second is on time. The store
    // makes each tick's job and advances the schedule in one transaction.
    if (now - last_schedules >= 1000) {
      last_schedules = now;
      auto made = co_await ctx_->db([&] {
        return store_->run_due_schedules(
            now, [](const Schedule& s, TimeMs at) { return decide_schedule(s, at); });
      });
      if (!made.ok()) {
        spdlog::error("scheduled jobs: {}", made.error().message);
      } else {
        for (const auto& job : *made) {
          spdlog::info("schedule made job {} ({})", job.id, job.idempotency_key);
          events_->job_available(job);
        }
      }
    }
    // The nightly refresh of stewarded repositories: looked at once a minute, it acts in the
    // 02:xx hour only (server/nightly_refresh.h).
    if (refresh_zone_ && now - last_refresh >= 60'000) {
      last_refresh = now;
      auto made =
          co_await ctx_->db([&] { return run_nightly_refresh(*store_, now, *refresh_zone_); });
      if (!made.ok()) {
        spdlog::error("nightly refresh: {}", made.error().message);
      } else {
        for (const auto& job : *made) {
          spdlog::info("nightly refresh queued job {} ({})", job.id, job.spec.name);
          events_->job_available(job);
        }
      }
    }
    // Workflow runs whose jobs changed without a finish report reaching this server (another
    // server's, a lease lost for good, a crash between steps): advanced once a second.
    if (now - last_workflows >= 1'000) {
      last_workflows = now;
      co_await sweep_workflow_runs(*ctx_);
    }
    // Wake parked claims for jobs that became claimable without a submit: requeued ones at
    // once, and (a slow safety net against any missed wake-up) the oldest runnable jobs.
    bool requeued = swept.ok() && !swept->requeued_job_ids.empty();
    if (waiters_.parked() > 0 && (requeued || now - last_safety >= config_.safety_sweep_ms)) {
      last_safety = now;
      auto runnable = co_await ctx_->db([&] { return store_->runnable_jobs(now, 256); });
      if (runnable.ok()) {
        // A job of a repository with a steward may have become the steward's to take
        // (steward.h): the same policy as the claim decides whom to wake.
        std::map<std::string, StewardFacts> facts_of;
        ClaimWaiters::WakePass pass(waiters_);
        for (const auto& job : *runnable) {
          if (job.repo_name.empty()) {
            pass.job_available(job);
            continue;
          }
          auto it = facts_of.find(job.tenant);
          if (it == facts_of.end()) {
            auto facts = co_await ctx_->db([&] {
              return load_steward_facts(*store_, job.tenant, now, config_.steward_stale_after_ms);
            });
            it =
                facts_of.emplace(job.tenant, facts.ok() ? std::move(facts.value()) : StewardFacts{})
                    .first;
          }
          const StewardFacts& facts = it->second;
          pass.job_available(job, [&](const Runner& r) { return steward_may_take(r, job, facts); });
        }
      }
    }
  }
}

void Server::run(bool handle_signals) {
  std::unique_ptr<asio::signal_set> signals;
  if (handle_signals) {
    signals = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
    signals->async_wait([this](const error_code& ec, int sig) {
      if (ec) return;
      spdlog::info("signal {}: shutting down", sig);
      stop();
    });
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < config_.io_threads; ++i)
    threads.emplace_back([this] {
      name_this_thread("corral-io");
      io_.run();
    });
  io_.run();
  for (auto& t : threads) t.join();
}

void Server::stop() {
  asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    if (http_) http_->stop();
    sweep_timer_.cancel();
    waiters_.wake_all();
    io_.stop();
  });
}

}  // namespace corral

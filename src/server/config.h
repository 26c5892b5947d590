// Server configuration: defaults here; main() layers env and flags on top.
#pragma once

#include <cstddef>
#include <string>
#include <thread>

#include "api/types.h"
#include "common/clock.h"

namespace corral {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./corral-data";
  std::string store;  // --store / CORRAL_STORE: "" = SQLite in data_dir (store/open_store.h)
  size_t body_limit = 1024 * 1024;        // bytes; larger bodies get 413
  int idle_timeout_ms = 75'000;           // keep-alive connection idle limit
  TimeMs heartbeat_interval_ms = 10'000;  // RUNNER_HEARTBEAT_INTERVAL_MS
  TimeMs heartbeat_timeout_ms = 30'000;   // RUNNER_HEARTBEAT_TIMEOUT_MS; also the lease length
  TimeMs sweep_interval_ms = 500;         // lease expiry and offline marking
  TimeMs safety_sweep_ms = 1'000;         // wakes parked claims for runnable jobs a wake-up missed
  TimeMs max_claim_wait_ms = 60'000;      // cap on a claim's long-poll
  // A runner's resource use is kept one sample per this long (GET /api/v1/runners/{id}/usage).
  TimeMs usage_sample_interval_ms = RunnerUsageSample::kEveryMs;
  int io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int store_pool_size = 8;  // --store-pool: PostgreSQL connections per server
  int store_threads = 32;   // blocking store calls (group commit needs several)
  // Blocking store calls of the read-only pages (/queue, /why, job lists and pages, stats) on
  // threads of their own: a burst of writes waiting on the writer never holds them up.
  int read_threads = 8;
  bool sqlite_synchronous_full = true;
  size_t log_stream_queue_bytes = 4 * 1024 * 1024;  // per watcher; past it the watcher is "lagged"
  int64_t log_max_bytes =
      64 * 1024 * 1024;  // per attempt log kept on disk; past it: a note, then nothing
  // Steward fallback (server/steward.h): the runners that could take a job count as gone
  // after this long without a heartbeat. CORRAL_STEWARD_STALE_AFTER_MS.
  TimeMs steward_stale_after_ms = 90'000;
  // The nightly refresh of stewarded repositories (server/nightly_refresh.h): on or off, and
  // the zone whose 02:00-02:59 it runs in. CORRAL_NIGHTLY_REFRESH, CORRAL_REFRESH_TIMEZONE.
  bool nightly_refresh = true;
  std::string refresh_timezone = "UTC";
  std::string admin_token;  // CORRAL_ADMIN_TOKEN; empty = generate on first start
  // GET /metrics answers only requests bearing this token (CORRAL_METRICS_TOKEN); empty =
  // open to anyone who can reach the server (docs/operations.md, Metrics).
  std::string metrics_token;
  // The runner binary offered to runners told to update (CORRAL_RUNNER_BINARY); "" = none.
  std::string runner_binary;
  // Server limits (docs/security.md, Server limits): beyond each the server answers 429 with
  // Retry-After (503 for connections) instead of growing without bound.
  // Jobs not finished (queued, leased, running) per tenant.
  int64_t max_queued_per_tenant = 100'000;
  int64_t max_schedules_per_tenant = 1'000;
  int max_connections = 20'000;         // open HTTP and WebSocket connections (needs as many fds)
  int max_watchers_per_job = 100;       // live log WebSocket streams of one job
  int max_watchers_per_tenant = 1'000;  // ... of all the tenant's jobs, on this server
};

}  // namespace corral

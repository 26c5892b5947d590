// `corral server`: runs the API server on its store (embedded SQLite by default, or PostgreSQL).
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "common/log_format.h"
#include "common/settings_file.h"
#include "common/units.h"
#include "server/server.h"
#include "store/open_store.h"

namespace corral::cli {

namespace {

// "64m", "1g" or plain bytes, at least 1 KiB.
CLI::Validator bytes_transform() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto bytes = parse_bytes(text);
        if (!bytes.ok()) return bytes.error().message;
        if (*bytes < 1024) return "must be at least 1024 bytes (1k)";
        text = std::to_string(*bytes);
        return {};
      },
      "BYTES");
}

// The server's settings as a settings file names them: each option's variable and flag.
std::vector<KnownSetting> known_server_settings(const CLI::App& cmd) {
  std::vector<KnownSetting> known;
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->get_envname().empty()) continue;
    for (const auto& flag : opt->get_lnames()) known.push_back({opt->get_envname(), flag});
  }
  return known;
}

void apply_settings_file(const CLI::App& cmd, const std::string& path) {
  auto settings = read_settings_file(path, known_server_settings(cmd), "docs/operations.md");
  if (!settings.ok()) {
    std::cerr << "corral server: " << settings.error().message << "\n";
    throw CLI::RuntimeError(2);
  }
  for (const auto& [env, value] : *settings) ::setenv(env.c_str(), value.c_str(), 0);
}

}  // namespace

void add_server_command(CLI::App& app) {
  auto config = std::make_shared<ServerConfig>();
  auto* cmd =
      app.add_subcommand("server", "Run the corral server (HTTP API, queue, runner registry)");
  cmd->add_option("--listen", config->listen, "Address to listen on (host:port; port 0 picks one)")
      ->envname("CORRAL_LISTEN")
      ->capture_default_str();
  cmd->add_option("--data-dir", config->data_dir,
                  "Directory for the SQLite database and admin token")
      ->envname("CORRAL_DATA_DIR")
      ->capture_default_str();
  cmd->add_option(
         "--store", config->store,
         std::string("Where jobs live: ") + kStoreForms + ". Several servers share one PostgreSQL")
      ->envname("CORRAL_STORE");
  cmd->add_option("--store-pool", config->store_pool_size,
                  "PostgreSQL connections this server keeps at most (requests wait for a free one)")
      ->envname("CORRAL_STORE_POOL")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--body-limit", config->body_limit, "Largest request body in bytes (413 beyond)")
      ->envname("CORRAL_BODY_LIMIT")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--heartbeat-interval-ms", config->heartbeat_interval_ms,
                  "Heartbeat interval told to runners")
      ->envname("RUNNER_HEARTBEAT_INTERVAL_MS")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  cmd->add_option("--heartbeat-timeout-ms", config->heartbeat_timeout_ms,
                  "A runner without a heartbeat this long is offline; also the lease length")
      ->envname("RUNNER_HEARTBEAT_TIMEOUT_MS")
      ->check(CLI::Range(int64_t{200}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option("--sweep-interval-ms", config->sweep_interval_ms,
                  "How often leases and heartbeats are checked")
      ->envname("CORRAL_SWEEP_INTERVAL_MS")
      ->check(CLI::Range(int64_t{10}, int64_t{60'000}))
      ->capture_default_str();
  cmd->add_option("--usage-sample-interval-ms", config->usage_sample_interval_ms,
                  "A runner's resource use is kept one sample per this long, for a day")
      ->envname("CORRAL_USAGE_SAMPLE_INTERVAL_MS")
      ->check(CLI::Range(int64_t{1'000}, int64_t{3'600'000}))
      ->capture_default_str();
  cmd->add_option(
         "--safety-sweep-ms", config->safety_sweep_ms,
         "How often parked claims are offered the runnable jobs (a net under the instant wake-ups)")
      ->envname("CORRAL_SAFETY_SWEEP_MS")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  cmd->add_option("--log-stream-queue-bytes", config->log_stream_queue_bytes,
                  "Bytes queued per log watcher before it is lagged and resumes from the store")
      ->envname("CORRAL_LOG_STREAM_QUEUE_BYTES")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--log-max-bytes", config->log_max_bytes,
                  "Largest log kept per job attempt (bytes, or e.g. 64m); later output is dropped "
                  "with a note")
      ->envname("CORRAL_LOG_MAX_BYTES")
      ->transform(bytes_transform())
      ->capture_default_str();
  cmd->add_option("--steward-stale-after-ms", config->steward_stale_after_ms,
                  "A repository's steward may take its jobs once every runner that could has had "
                  "no heartbeat "
                  "for longer than this")
      ->envname("CORRAL_STEWARD_STALE_AFTER_MS")
      ->check(CLI::Range(int64_t{100}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option(
         "--nightly-refresh", config->nightly_refresh,
         "Queue an analysis-pr and an analysis-issue job for each repository with a steward "
         "every night at 02:xx (see --refresh-timezone)")
      ->envname("CORRAL_NIGHTLY_REFRESH")
      ->capture_default_str();
  cmd->add_option("--refresh-timezone", config->refresh_timezone,
                  "The time zone of the nightly refresh's 02:00-02:59 window, e.g. Europe/Berlin, "
                  "for tenants that set none of their own (`corral tenant --refresh-timezone`)")
      ->envname("CORRAL_REFRESH_TIMEZONE")
      ->capture_default_str();
  cmd->add_option(
         "--max-queued-per-tenant", config->max_queued_per_tenant,
         "Jobs a tenant may have unfinished (queued, leased, running); submits beyond get 429")
      ->envname("CORRAL_MAX_QUEUED_PER_TENANT")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-schedules-per-tenant", config->max_schedules_per_tenant,
                  "Schedules a tenant may have; creating more gets 429")
      ->envname("CORRAL_MAX_SCHEDULES_PER_TENANT")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option(
         "--max-connections", config->max_connections,
         "Open connections this server holds at most; beyond, new ones get 503 and are closed "
         "(the process needs this many file descriptors plus ~100: ulimit -n)")
      ->envname("CORRAL_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--max-watchers-per-job", config->max_watchers_per_job,
                  "Live log streams (WebSocket) one job may have on this server; beyond, 429")
      ->envname("CORRAL_MAX_WATCHERS_PER_JOB")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--max-watchers-per-tenant", config->max_watchers_per_tenant,
                  "Live log streams (WebSocket) of one tenant's jobs on this server; beyond, 429")
      ->envname("CORRAL_MAX_WATCHERS_PER_TENANT")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--threads", config->io_threads, "I/O threads (default: one per core)")
      ->envname("CORRAL_THREADS")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--admin-token", config->admin_token, "Admin token to create if absent")
      ->envname("CORRAL_ADMIN_TOKEN");
  cmd->add_option("--metrics-token", config->metrics_token,
                  "GET /metrics then needs 'Authorization: Bearer TOKEN' (default: open)")
      ->envname("CORRAL_METRICS_TOKEN");
  cmd->add_option("--runner-binary", config->runner_binary,
                  "The corral binary runners fetch when an admin tells them to update "
                  "(POST /api/v1/runners/{id}/commands)")
      ->envname("CORRAL_RUNNER_BINARY")
      ->check(CLI::ExistingFile);
  auto log_json = std::make_shared<bool>(false);
  cmd->add_flag("--log-json", *log_json, "Log as JSON lines")->envname("CORRAL_LOG_JSON");
  // Read as soon as it is parsed, before the environment: its settings become the
  // environment's defaults, so a variable that is set wins over the file and a flag over both.
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_file,
                  "YAML file of settings: their variables or flag names as keys "
                  "(docs/operations.md); below the environment and the flags")
      ->trigger_on_parse()
      ->each([cmd, config_file](const std::string& path) { apply_settings_file(*cmd, path); });
  cmd->callback([config, log_json] {
    if (*log_json) {
      spdlog::set_formatter(json_lines_formatter());
    }
    if (config->heartbeat_timeout_ms <= config->heartbeat_interval_ms) {
      throw CLI::ValidationError(
          "--heartbeat-timeout-ms",
          "must be larger than --heartbeat-interval-ms (a runner needs time to beat)");
    }
    if (auto location = parse_store_location(config->store, config->data_dir); !location.ok()) {
      std::cerr << "corral server: " << location.error().message << "\n";
      throw CLI::RuntimeError(2);
    }
    SystemClock clock;
    Server server(*config, clock);
    auto started = server.start();
    if (!started.ok()) {
      std::cerr << "corral server: " << started.error().message << "\n";
      throw CLI::RuntimeError(1);
    }
    // With --log-json these lines are log records too: stdout holds nothing but JSON lines.
    auto announce = [&](const std::string& line) {
      if (*log_json) {
        spdlog::info("{}", line);
      } else {
        std::cout << line << std::endl;
      }
    };
    announce("corral server listening on " + server.url());
    if (!server.new_admin_token().empty()) {
      announce("admin token (shown once; also in " + config->data_dir +
               "/admin.token): " + server.new_admin_token());
    }
    server.run(true);
  });
}

}  // namespace corral::cli

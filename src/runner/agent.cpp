#include "runner/agent.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "common/json_limits.h"
#include "common/numbers.h"
#include "common/version.h"
#include "runner/policy.h"
#include "runner/workspace.h"

namespace corral {

namespace {

std::chrono::milliseconds jittered(std::chrono::milliseconds base) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(base.count()) * factor(rng)));
}

json system_info(const std::string& workspace_base) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  int64_t disk = 0;
  struct statvfs vfs;
  std::error_code ec;
  std::filesystem::create_directories(workspace_base, ec);
  if (statvfs(workspace_base.c_str(), &vfs) == 0)
    disk = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  return {{"cpus", static_cast<int>(std::thread::hardware_concurrency())},
          {"memory_bytes", memory},
          {"disk_bytes", disk},
          {"hostname", host}};
}

// What changes between heartbeats: load, free memory, free disk under the workspace base.
json live_figures(const std::string& workspace_base) {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 1) load[0] = 0;
  int64_t memory_available = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") memory_available = kib * 1024;
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  int64_t disk_free = -1;
  struct statvfs vfs;
  if (statvfs(workspace_base.c_str(), &vfs) == 0)
    disk_free = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
  return {{"load_1m", load[0]},
          {"memory_available_bytes", memory_available},
          {"disk_free_bytes", disk_free}};
}

// The server's answer, nesting-limited (common/json_limits.h); anything but an object is an
// error. The size is bounded by the HTTP client's body limit.
Result<json> server_answer(const HttpResponse& res) {
  auto parsed = parse_json_limited(res.body, "the server's answer",
                                   {kMaxJsonDepth, std::numeric_limits<size_t>::max()});
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_object()) {
    return make_error(ErrorCode::kBadRequest,
                      "the server's answer is not a JSON object: " + res.body.substr(0, 200));
  }
  return parsed;
}

std::string error_text(const Result<HttpResponse>& res) {
  if (!res.ok()) return res.error().message;
  auto body = server_answer(*res);
  if (body.ok() && body->contains("error")) {
    return "HTTP " + std::to_string(res->status) + ": " +
           json_string_or((*body)["error"], "message", res->body);
  }
  return "HTTP " + std::to_string(res->status) + ": " + res->body;
}

}  // namespace

Agent::Agent(RunnerConfig config, RuntimeFactory make_runtime)
    : config_(std::move(config)),
      make_runtime_(std::move(make_runtime)),
      clones_(
          std::make_unique<asio::thread_pool>(static_cast<size_t>(config_.max_concurrent_jobs))) {}

Agent::~Agent() {
  clones_->join();
  blocking_.join();
}

int Agent::free_slots() const {
  return config_.max_concurrent_jobs - static_cast<int>(active_.size());
}

json Agent::registration_body() const {
  json running = json::array();
  for (const auto& [key, exec] : active_)
    running.push_back({{"job_id", key.first}, {"attempt", key.second}});
  json system = system_info(config_.workspace_base);
  if (!config_.hostname.empty()) system["hostname"] = config_.hostname;  // RUNNER_HOSTNAME
  return {{"name", config_.name},
          {"description", config_.description},
          {"labels", config_.labels},
          {"group", config_.group},
          {"modes", config_.modes},
          {"max_concurrent_jobs", config_.max_concurrent_jobs},
          {"owner_only", config_.owner_only},
          {"version", build_version()},
          {"capabilities", capabilities_},
          {"system", system},
          {"running", running}};
}

int Agent::run(bool handle_signals) {
  auto endpoint = Endpoint::parse(config_.server_url);
  if (!endpoint.ok()) {
    spdlog::error("{}", endpoint.error().message);
    return 2;
  }
  if (auto checked = check_restart(); !checked.ok()) {
    spdlog::error("{}", checked.error().message);
    return 1;
  }
  if (restart_plan_) return 0;  // an update rolled back: the previous binary takes over
  auto runtime = make_runtime_(io_.get_executor());
  if (!runtime.ok()) {
    spdlog::error("{}", runtime.error().message);
    return 1;
  }
  runtime_ = std::move(runtime.value());
  server_ = std::make_unique<HttpClient>(io_.get_executor(), *endpoint, config_.token);
  asio::signal_set signals(io_);
  std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}", sig);
    on_stop_signal();
    signals.async_wait(on_signal);
  };
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait(on_signal);
  }
  if (auto served = serve_metrics(); !served.ok()) {
    spdlog::error("{}", served.error().message);
    return 2;
  }
  asio::co_spawn(io_, main(), [this](const std::exception_ptr& e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("runner failed: {}", ex.what());
        exit_code_ = 1;
      }
    }
    io_.stop();
  });
  io_.run();
  if (install_ && restart_plan_) {
    // Drained and gone from the server: put the new binary in place, on probation.
    install_->deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count() +
                            int64_t{config_.update_deadline_s} * 1000;
    if (auto installed = install_update(binary_, *install_); !installed.ok()) {
      spdlog::error("update to {} failed: {}", install_->to_version, installed.error().message);
      restart_plan_->env[kUpdateFailedEnv] = installed.error().message;
    } else {
      spdlog::info("version {} is in place of {}; starting it", install_->to_version,
                   install_->from_version);
    }
  }
  return exit_code_;
}

Result<void> Agent::check_restart() {
  if (const char* id = std::getenv(kRestartCommandEnv)) {
    restart_command_ = id;
    begun_commands_.insert(restart_command_);  // done: this process is its outcome
  }
  if (const char* why = std::getenv(kUpdateFailedEnv)) restart_failure_ = why;
  unsetenv(kRestartCommandEnv);  // not for the jobs, nor for a later restart
  unsetenv(kUpdateFailedEnv);
  auto binary = own_binary();
  if (!binary.ok()) return {};  // no /proc: no update can have been installed either
  binary_ = *binary;
  TimeMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  auto check = check_pending_update(binary_, now);
  if (!check.ok()) return check.error();
  if (check->rollback) {
    spdlog::error("update failed: {}", check->rollback->env[kUpdateFailedEnv]);
    restart_plan_ = std::move(check->rollback);
    return {};
  }
  probation_ = check->pending;
  if (probation_) {
    spdlog::info(
        "version {} replaces {}: it must register with the server by the deadline, "
        "or {} comes back",
        probation_->to_version, probation_->from_version, probation_->from_version);
  }
  return {};
}

void Agent::report_command(const std::string& id, bool succeeded, const std::string& message) {
  if (id.empty()) return;
  spdlog::info("command {} {}: {}", id, succeeded ? "succeeded" : "failed", message);
  command_results_.push_back(
      {{"id", id}, {"state", succeeded ? "succeeded" : "failed"}, {"message", message}});
  heartbeat_now_.set();
}

void Agent::abort_parked_claim() {
  if (claim_conn_ && *claim_conn_) {
    claim_aborted_ = true;
    std::visit([](auto& stream) { stream.close(); }, (*claim_conn_)->stream());
  }
  slot_freed_.set();
}

void Agent::stop_and_restart(RestartPlan plan) {
  restart_plan_ = std::move(plan);
  on_stop_signal();
}

void Agent::handle_commands(const json& commands) {
  if (!commands.is_array()) return;
  for (const auto& c : commands) {
    RunnerCommand command{
        json_string_or(c, "type"),   json_string_or(c, "job_id"), 0,
        json_string_or(c, "reason"), json_string_or(c, "id"),     json_string_or(c, "version"),
        json_string_or(c, "sha256")};
    command.attempt =
        static_cast<int>(std::clamp<int64_t>(json_int_or(c, "attempt", 0), 0, INT32_MAX));
    if (command.type == "cancel") {
      auto it = active_.find({command.job_id, command.attempt});
      if (it != active_.end()) {
        it->second->stop(command.reason == "stale" ? StopReason::kStale : StopReason::kCanceled);
      }
    } else if (command.type == "drain") {
      if (!draining_) spdlog::info("the server asked this runner to drain: no new jobs");
      draining_ = true;
      abort_parked_claim();  // it may take a job: claim for commands only from now on
      report_command(
          command.id, true,
          "draining: no new jobs; " + std::to_string(active_.size()) + " job(s) still running");
    } else if (command.type == "resume") {
      if (stopping_ || updating_) {
        report_command(command.id, false,
                       stopping_ ? "the runner is stopping" : "the runner is updating");
        continue;
      }
      if (draining_) spdlog::info("the server asked this runner to resume: taking jobs again");
      draining_ = false;
      abort_parked_claim();
      report_command(command.id, true, "taking jobs again");
    } else if (command.type == "restart" || command.type == "update") {
      // The server sends a command again when its answer is late (a parked claim that carried
      // it may have been dropped): one this runner is carrying out is not begun twice.
      if (!command.id.empty() && !begun_commands_.insert(command.id).second) continue;
      if (stopping_ || updating_ || binary_.empty()) {
        report_command(command.id, false,
                       binary_.empty() ? "the runner cannot find its own binary (/proc/self/exe)"
                                       : "the runner is already stopping or updating");
        continue;
      }
      if (command.type == "restart") {
        spdlog::info("the server asked this runner to restart: draining first");
        RestartPlan plan{binary_, own_arguments(), {}};
        if (!command.id.empty()) plan.env[kRestartCommandEnv] = command.id;
        stop_and_restart(std::move(plan));
      } else {
        updating_ = true;
        asio::co_spawn(io_, update_to(std::move(command)), asio::detached);
      }
    } else if (!command.type.empty()) {
      report_command(command.id, false,
                     "this runner does not know the command '" + command.type + "'");
    }
  }
}

awaitable<void> Agent::update_to(RunnerCommand command) {
  bool was_draining = draining_;
  draining_ = true;  // no new jobs while the new binary is fetched and checked
  abort_parked_claim();
  spdlog::info("updating to version {}: fetching the server's runner binary", command.version);
  HttpRequest req{http::verb::get, "/api/v1/runner/binary", "", "", {}, std::chrono::minutes(5)};
  auto res = co_await server_->request(std::move(req));
  Result<std::filesystem::path> staged = make_error(ErrorCode::kUnavailable, "not fetched");
  if (!res.ok() || res->status != 200) {
    staged = make_error(ErrorCode::kUnavailable,
                        "cannot fetch the runner binary from the server: " + error_text(res));
  } else {
    staged = co_await run_blocking(blocking_, [&] {
      return stage_update(binary_, res->body, command.sha256, command.version);
    });
  }
  if (!staged.ok()) {
    spdlog::error("update to {} refused: {}", command.version, staged.error().message);
    report_command(command.id, false, staged.error().message);
    updating_ = false;
    draining_ = was_draining;
    abort_parked_claim();
    co_return;
  }
  spdlog::info("version {} fetched and checked; draining, then restarting with it",
               command.version);
  install_ = PendingUpdate{command.id, build_version(), command.version, 0, 0};
  RestartPlan plan{binary_, own_arguments(), {}};
  if (!command.id.empty()) plan.env[kRestartCommandEnv] = command.id;
  stop_and_restart(std::move(plan));
}

void Agent::request_stop() {
  asio::post(io_, [this] { on_stop_signal(); });
}

void Agent::on_stop_signal() {
  if (stopping_) {
    spdlog::warn("second stop request: not waiting for running jobs any longer");
    abort_drain_ = true;
    slot_freed_.set();
    return;
  }
  spdlog::info("shutting down: no new jobs; {} running job(s) get up to {}s to finish",
               active_.size(), config_.drain_timeout_s);
  stopping_ = true;
  draining_ = true;
  stop_requested_.set();
  slot_freed_.set();
  if (claim_conn_ && *claim_conn_) {
    std::visit([](auto& stream) { stream.close(); }, (*claim_conn_)->stream());
  }
}

awaitable<void> Agent::main() {
  auto info = co_await runtime_->info();
  if (!info.ok()) {
    spdlog::error("cannot reach the container engine ({}): {}", config_.docker_host,
                  info.error().message);
    spdlog::error(
        "start Docker or Podman's service (scripts/podman-service.sh), set DOCKER_HOST, or use "
        "--executor shell");
    exit_code_ = 1;
    co_return;
  }
  auto caps = runtime_->capabilities();
  struct utsname uts;
  uname(&uts);
  capabilities_ = {
      {"executor", config_.executor},
      {"engine",
       {{"name", info->name}, {"version", info->version}, {"api_version", info->api_version}}},
      {"git", git_version()},
      {"os", info->os.empty() ? std::string(uts.sysname) : info->os},
      {"arch", info->arch.empty() ? std::string(uts.machine) : info->arch},
      {"isolation", caps.isolation},
      {"resource_limits", caps.resource_limits},
      {"pool_size", caps.held_start ? config_.docker_pool_size : 0},
      {"policy", policy_json(config_)}};
  spdlog::info("runner {}: {} executor on {} {}", config_.name, config_.executor, info->name,
               info->version);
  if (!caps.isolation) {
    spdlog::warn(
        "the shell executor isolates NOTHING: jobs run as this user, on this host, with its "
        "network");
  }
  if (config_.docker_pool_size > 0 && !caps.held_start) {
    spdlog::warn("DOCKER_POOL_SIZE={} ignored: the {} executor cannot keep containers warm",
                 config_.docker_pool_size, config_.executor);
  }

  if (probation_) {
    // The new binary must register by the deadline, or the previous one comes back.
    asio::co_spawn(
        io_,
        [this]() -> awaitable<void> {
          TimeMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
          auto left = std::chrono::milliseconds(std::max<TimeMs>(probation_->deadline_ms - now, 0));
          if (co_await registered_.wait_for(left) || stopping_ || !probation_) co_return;
          auto plan = roll_back_update(
              binary_, *probation_,
              "version " + probation_->to_version + " did not register with the server in time");
          if (!plan.ok()) {
            spdlog::error("{}", plan.error().message);
            co_return;
          }
          spdlog::error("version {} did not register in time: going back to {}",
                        probation_->to_version, probation_->from_version);
          probation_.reset();
          stop_and_restart(std::move(*plan));
        },
        asio::detached);
  }
  co_await register_until_accepted();
  if (stopping_) co_return;
  registered_.set();
  if (probation_) {
    confirm_update(binary_);
    report_command(restart_command_, true,
                   "updated from " + probation_->from_version + " to " + probation_->to_version);
    probation_.reset();
  } else if (!restart_failure_.empty()) {
    report_command(restart_command_, false, restart_failure_);
  } else if (!restart_command_.empty()) {
    report_command(restart_command_, true, "restarted (version " + build_version() + ")");
  }
  co_await remove_orphans();
  if (!config_.repo_cache_dir.empty()) {
    repo_cache_ = std::make_unique<RepoCache>(
        RepoCacheConfig{config_.repo_cache_dir, config_.repo_cache_max_bytes});
    spdlog::info("repo cache: mirrors in {} (at most {} bytes; RUNNER_REPO_CACHE=off disables it)",
                 config_.repo_cache_dir, config_.repo_cache_max_bytes);
  }
  ctx_ = std::make_unique<AgentContext>(AgentContext{io_.get_executor(), config_, *server_,
                                                     *runtime_, blocking_, *clones_, runner_id_});
  ctx_->repo_cache = repo_cache_.get();
  ctx_->metrics = &metrics_;
  if (config_.docker_pool_size > 0 && caps.held_start) {
    pool_ =
        std::make_unique<WarmPool>(io_.get_executor(), *runtime_, blocking_, config_, runner_id_);
    ctx_->pool = pool_.get();
    asio::co_spawn(io_, pool_->run(), asio::detached);
  }
  co_await check_health();  // before the first claim
  asio::co_spawn(io_, heartbeat_loop(), asio::detached);
  co_await claim_loop();
  if (!stopping_) co_await stop_requested_.wait();  // drained by command: idle until told to stop

  // Drain: running jobs get up to the drain timeout, then are stopped.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.drain_timeout_s);
  while (!active_.empty() && !abort_drain_ && std::chrono::steady_clock::now() < deadline) {
    slot_freed_.reset();
    co_await slot_freed_.wait_until(deadline);
  }
  if (!active_.empty()) {
    spdlog::warn("stopping {} job(s) that did not finish in time; the server will requeue them",
                 active_.size());
    for (auto& [key, exec] : active_) exec->stop(StopReason::kShutdown);
    auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(config_.stop_grace_s + 30);
    while (!active_.empty() && std::chrono::steady_clock::now() < hard) {
      slot_freed_.reset();
      co_await slot_freed_.wait_until(hard);
    }
  }
  if (pool_) {
    ctx_->pool = nullptr;
    co_await pool_->shutdown();  // the runner leaves no warm container behind
  }
  heartbeat_stopped_.set();
  heartbeat_now_.set();
  co_await send_heartbeat(true);
  spdlog::info("runner {} stopped", config_.name);
}

awaitable<void> Agent::register_until_accepted() {
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    server_->set_token(config_.token);
    HttpRequest req{http::verb::post,
                    "/api/v1/runners/register",
                    registration_body().dump(),
                    "application/json",
                    {},
                    std::chrono::milliseconds(config_.request_timeout_ms)};
    auto res = co_await server_->request(std::move(req));
    std::string why;
    if (res.ok() && res->status == 200) {
      auto body = server_answer(*res);
      std::string runner_id = body.ok() ? json_string_or(*body, "runner_id") : "";
      std::string secret = body.ok() ? json_string_or(*body, "secret") : "";
      if (!runner_id.empty() && !secret.empty()) {
        runner_id_ = runner_id;
        server_->set_token(secret);
        int64_t interval = json_int_or(*body, "heartbeat_interval_ms", 10'000);
        heartbeat_interval_ = std::chrono::milliseconds(config_.heartbeat_interval_ms > 0
                                                            ? config_.heartbeat_interval_ms
                                                            : std::max<int64_t>(interval, 1));
        if (ctx_) ctx_->runner_id = runner_id_;
        spdlog::info("registered with {} as {} ({})", config_.server_url, config_.name, runner_id_);
        if (std::string tenant = json_string_or(*body, "tenant");
            !config_.tenant.empty() && tenant != config_.tenant) {
          // The wrong token: leave at once, and offline, rather than take that tenant's jobs.
          spdlog::error(
              "RUNNER_TENANT (ADOS_TENANT_ID) is '{}' but the registration token belongs to {}: "
              "use a runner token of tenant '{}' (`corral tokens create --kind runner --tenant {}` "
              "by an admin), or correct RUNNER_TENANT / ADOS_TENANT_ID",
              config_.tenant,
              tenant.empty() ? "a tenant the server does not name" : "tenant '" + tenant + "'",
              config_.tenant, config_.tenant);
          exit_code_ = 2;
          co_await send_heartbeat(true);
          if (!stopping_) on_stop_signal();
        }
        co_return;
      }
      why = body.ok() ? "the server's answer lacks runner_id or secret" : body.error().message;
    } else {
      why = error_text(res);
    }
    auto wait = jittered(backoff);
    spdlog::warn("cannot register with {}: {}; retrying in {} ms", config_.server_url, why,
                 wait.count());
    if (co_await stop_requested_.wait_for(wait)) co_return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
  }
}

awaitable<void> Agent::remove_orphans() {
  // Spool files of attempts that ran in warm containers (no job label: warm_pool.h).
  std::filesystem::path base = config_.workspace_base;
  std::filesystem::path slots = base / ".pool" / runner_id_;
  int spools = co_await run_blocking(blocking_,
                                     [&] { return remove_marked_spools(slots, base / ".spool"); });
  if (spools > 0) spdlog::info("removed {} spool file(s) of warm-container attempts", spools);
  // Containers of ours that no attempt owns any more (a crash, a kill -9): remove them.
  auto found = co_await runtime_->list("corral.runner=" + runner_id_);
  if (!found.ok()) {
    spdlog::warn("cannot list leftover containers: {}", found.error().message);
    co_return;
  }
  for (const auto& c : *found) {
    std::string job = c.labels.count("corral.job") ? c.labels.at("corral.job") : "";
    std::string attempt = c.labels.count("corral.attempt") ? c.labels.at("corral.attempt") : "";
    spdlog::info("removing leftover container {} (job {})", c.id.substr(0, 12),
                 job.empty() ? "?" : job);
    (void)co_await runtime_->remove(c.id);
    // ... and the workspace and log spool its attempt had.
    int number = parse_number<int>(attempt).value_or(0);
    if (job.empty() || job.find('/') != std::string::npos || job.find("..") != std::string::npos ||
        number <= 0)
      continue;
    auto paths = workspace_paths(config_.workspace_base, job, number);
    co_await run_blocking(blocking_, [&] {
      std::error_code ec;
      std::filesystem::remove_all(paths.dir, ec);
      std::filesystem::remove(paths.dir.parent_path(), ec);  // the job dir, once empty
      std::filesystem::remove(paths.spool_file, ec);
      return 0;
    });
  }
}

Result<void> Agent::serve_metrics() {
  if (config_.metrics_listen.empty()) return {};
  metrics_router_.add(http::verb::get, "/metrics", [this](RequestContext&) -> awaitable<Response> {
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, kMetricsContentType);
    res.set(http::field::cache_control, "no-store");
    res.body() = co_await render_metrics();
    res.prepare_payload();
    co_return res;
  });
  const std::string& listen = config_.metrics_listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  // Checked by the config (RUNNER_METRICS_LISTEN).
  auto port = parse_number<uint16_t>(std::string_view(listen).substr(colon + 1)).value_or(0);
  HttpServerOptions options;
  options.max_connections = 64;
  metrics_server_ = std::make_unique<HttpServer>(io_, metrics_router_, options);
  auto bound = metrics_server_->listen(host, port);
  if (!bound.ok()) {
    return make_error(ErrorCode::kBadRequest, "RUNNER_METRICS_LISTEN " + listen +
                                                  ": cannot listen: " + bound.error().message);
  }
  spdlog::info("metrics at http://{}:{}/metrics", bound->address().to_string(), bound->port());
  return {};
}

awaitable<std::string> Agent::render_metrics() {
  MetricsText out;
  out.family("corral_runner_info", "gauge",
             "The runner's name and version (the value is always 1).");
  out.sample("corral_runner_info",
             {{"name", config_.name}, {"version", build_version()}, {"executor", config_.executor}},
             1);
  out.family("corral_runner_jobs_running", "gauge", "Attempts this runner runs now.");
  out.sample("corral_runner_jobs_running", {}, static_cast<double>(active_.size()));
  out.family("corral_runner_slots", "gauge",
             "Attempts this runner runs at most (RUNNER_MAX_CONCURRENT_JOBS).");
  out.sample("corral_runner_slots", {}, config_.max_concurrent_jobs);
  out.family("corral_runner_draining", "gauge",
             "1 while the runner takes no new jobs (drained or stopping).");
  out.sample("corral_runner_draining", {}, draining_ ? 1 : 0);
  out.family("corral_runner_pool_size", "gauge",
             "Warm containers the pool keeps (DOCKER_POOL_SIZE; 0 = no pool).");
  out.sample("corral_runner_pool_size", {}, pool_ ? config_.docker_pool_size : 0);
  out.family("corral_runner_pool_ready", "gauge", "Warm containers ready for a job now.");
  out.sample("corral_runner_pool_ready", {}, pool_ ? pool_->status().value("ready", 0.0) : 0.0);
  // File sizes: a walk of two directories, off the I/O thread.
  struct Disk {
    RepoCache::Usage cache;
    int64_t spool_bytes = 0;
  };
  RepoCache* cache = repo_cache_.get();
  std::filesystem::path spool = std::filesystem::path(config_.workspace_base) / ".spool";
  // Only references in the co_await expression: g++ 12 destroys a temporary lambda that
  // holds a path twice there.
  Disk disk = co_await run_blocking(blocking_, [&] {
    Disk d;
    if (cache) d.cache = cache->usage();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(spool, ec)) {
      std::error_code size_ec;
      auto size = entry.file_size(size_ec);
      if (!size_ec) d.spool_bytes += static_cast<int64_t>(size);
    }
    return d;
  });
  out.family("corral_runner_repo_cache_mirrors", "gauge", "Repository mirrors in the cache.");
  out.sample("corral_runner_repo_cache_mirrors", {}, disk.cache.mirrors);
  out.family("corral_runner_repo_cache_bytes", "gauge",
             "Bytes the repository cache's mirrors take.");
  out.sample("corral_runner_repo_cache_bytes", {}, static_cast<double>(disk.cache.bytes));
  out.family("corral_runner_repo_cache_max_bytes", "gauge",
             "The cache's bound (RUNNER_REPO_CACHE_MAX; 0 = none or no cache).");
  out.sample("corral_runner_repo_cache_max_bytes", {},
             cache ? static_cast<double>(config_.repo_cache_max_bytes) : 0.0);
  out.family("corral_runner_spool_bytes", "gauge",
             "Job output in the spool files of the attempts on this runner (kept on disk until "
             "the server has it all).");
  out.sample("corral_runner_spool_bytes", {}, static_cast<double>(disk.spool_bytes));
  metrics_.registry.render(out);
  co_return out.text();
}

awaitable<void> Agent::check_health() {
  std::string error;
  auto answered = co_await runtime_->ping();
  if (!answered.ok()) error = "the container engine does not answer: " + answered.error().message;
  if (error.empty() && config_.min_free_disk_bytes > 0) {
    json figures = live_figures(config_.workspace_base);
    int64_t free_bytes = figures["disk_free_bytes"].get<int64_t>();
    if (free_bytes >= 0 && free_bytes < config_.min_free_disk_bytes) {
      error = "disk full: " + std::to_string(free_bytes / (1024 * 1024)) + " MiB free under " +
              config_.workspace_base + ", below RUNNER_MIN_FREE_DISK (" +
              std::to_string(config_.min_free_disk_bytes / (1024 * 1024)) + " MiB)";
    }
  }
  if (error != health_error_) {
    if (!error.empty()) {
      spdlog::error("taking no jobs: {}", error);
    } else {
      spdlog::info("healthy again ({}): taking jobs", health_error_);
    }
    health_error_ = error;
    abort_parked_claim();  // claim again, for jobs or for commands only
  }
}

awaitable<void> Agent::send_heartbeat(bool going_away) {
  if (!going_away) co_await check_health();
  json running = json::array();
  for (const auto& [key, exec] : active_)
    running.push_back({{"job_id", key.first}, {"attempt", key.second}});
  json usage{{"running_jobs", active_.size()},
             {"max_concurrent_jobs", config_.max_concurrent_jobs}};
  if (pool_) usage["pool"] = pool_->status();  // {"size", "ready"}: the dashboard shows it
  usage["system"] = live_figures(config_.workspace_base);
  usage["health"] = health_error_.empty() ? json{{"state", "ok"}}
                                          : json{{"state", "error"}, {"reason", health_error_}};
  json body{
      {"running", running}, {"usage", usage}, {"draining", draining_}, {"going_away", going_away}};
  size_t reported = command_results_.size();
  if (reported > 0) body["command_results"] = command_results_;
  HttpRequest req{http::verb::post,
                  "/api/v1/runners/" + runner_id_ + "/heartbeat",
                  body.dump(),
                  "application/json",
                  {},
                  std::chrono::milliseconds(config_.request_timeout_ms)};
  auto res = co_await server_->request(std::move(req));
  if (!res.ok() || res->status != 200) {
    spdlog::warn("heartbeat failed: {}", error_text(res));
    if (res.ok() && res->status == 401 && !going_away) {
      // Our secret is no longer valid (registered again elsewhere, or the server's data was
      // reset): register again, telling the server what we still run.
      co_await register_until_accepted();
    }
    co_return;
  }
  // The server has the acknowledgements sent (those added meanwhile go next time).
  command_results_.erase(command_results_.begin(),
                         command_results_.begin() + static_cast<std::ptrdiff_t>(reported));
  auto reply = server_answer(*res);
  if (!reply.ok()) {
    spdlog::warn("heartbeat answer ignored: {}", reply.error().message);
    co_return;
  }
  if (auto commands = reply->find("commands"); commands != reply->end()) handle_commands(*commands);
}

awaitable<void> Agent::heartbeat_loop() {
  while (!heartbeat_stopped_.is_set()) {
    heartbeat_now_.reset();
    co_await send_heartbeat(false);
    // Early when there is an acknowledgement to send (report_command) or on the way out.
    if (!heartbeat_now_.is_set()) co_await heartbeat_now_.wait_for(heartbeat_interval_);
  }
}

awaitable<void> Agent::claim_loop() {
  while (!stopping_) {
    // A draining runner keeps a claim parked for commands only (slots 0): a resume or an
    // update reaches it at once rather than with the next heartbeat.
    int slots = commands_only() ? 0 : free_slots();
    if (!commands_only() && slots <= 0) {
      slot_freed_.reset();
      co_await slot_freed_.wait_for(std::chrono::milliseconds(config_.poll_timeout_ms + 1000));
      continue;
    }
    claim_aborted_ = false;
    json body{{"slots", slots}, {"wait_ms", config_.poll_timeout_ms}};
    auto timeout = std::chrono::milliseconds(config_.poll_timeout_ms + config_.request_timeout_ms);
    HttpRequest req{http::verb::post,
                    "/api/v1/runners/" + runner_id_ + "/claim",
                    body.dump(),
                    "application/json",
                    {},
                    timeout};
    auto msg = server_->build(req);
    Result<HttpResponse> res = make_error(ErrorCode::kUnavailable, "not sent");
    auto conn = co_await server_->acquire(timeout);
    if (conn.ok()) {
      std::unique_ptr<HttpConnection> held = std::move(conn.value());
      claim_conn_ = &held;
      res = co_await held->exchange(msg, timeout);
      claim_conn_ = nullptr;
      if (res.ok()) server_->release(std::move(held));
    } else {
      res = conn.error();
    }
    if (stopping_) break;
    if (claim_aborted_ && !res.ok()) continue;  // drained or resumed meanwhile: claim anew
    if (!res.ok() || res->status != 200) {
      spdlog::warn("claim failed: {}", error_text(res));
      if (res.ok() && res->status == 401) {
        co_await register_until_accepted();
        continue;
      }
      co_await stop_requested_.wait_for(
          jittered(std::chrono::milliseconds(config_.poll_interval_ms)));
      continue;
    }
    auto reply = server_answer(*res);
    if (!reply.ok()) spdlog::error("claim answer ignored: {}", reply.error().message);
    if (reply.ok()) {
      if (auto commands = reply->find("commands"); commands != reply->end())
        handle_commands(*commands);
    }
    json jobs = json::array();
    if (reply.ok() && reply->contains("jobs") && (*reply)["jobs"].is_array())
      jobs = std::move((*reply)["jobs"]);
    for (const auto& j : jobs) {
      auto parsed = parse_claimed_job(j);
      if (!parsed.ok()) {
        spdlog::error("unreadable job from the server: {}", parsed.error().message);
        continue;
      }
      ClaimedJob claimed = std::move(parsed.value());
      auto key = std::make_pair(claimed.job_id, claimed.attempt);
      spdlog::info("claimed job {} attempt {} ({})", claimed.job_id, claimed.attempt,
                   claimed.spec.name);
      auto exec = std::make_shared<JobExecutor>(*ctx_, std::move(claimed));
      active_[key] = exec;
      asio::co_spawn(io_, exec->run(), [this, key, exec](const std::exception_ptr& e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("job {} failed inside the runner: {}", key.first, ex.what());
          }
        }
        active_.erase(key);
        slot_freed_.set();
      });
    }
    if (jobs.empty() && config_.poll_timeout_ms == 0 && !claim_aborted_) {
      co_await stop_requested_.wait_for(
          jittered(std::chrono::milliseconds(config_.poll_interval_ms)));
    }
  }
}

}  // namespace corral

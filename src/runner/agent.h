// The runner agent: register -> heartbeat -> long-poll claim -> execute -> report.
//
// Everything runs as coroutines on one I/O thread; blocking work (git, file removal) goes
// to a small thread pool. Shutdown (SIGTERM/SIGINT): stop claiming, let running jobs
// finish for up to the drain timeout, stop the rest, send a final heartbeat saying the
// runner is going away (the server requeues what it did not finish), exit 0. A second
// signal skips the wait.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "net/event.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "runner/config.h"
#include "runner/executor.h"
#include "runner/self_update.h"
#include "runner/warm_pool.h"
#include "runtime/container_runtime.h"

namespace corral {

// Makes the runtime on the agent's I/O executor.
using RuntimeFactory =
    std::function<Result<std::unique_ptr<ContainerRuntime>>(asio::any_io_executor)>;

class Agent {
 public:
  Agent(RunnerConfig config, RuntimeFactory make_runtime);
  ~Agent();

  // Runs until shut down; returns the process exit code.
  int run(bool handle_signals);
  // Thread-safe: begins a graceful shutdown (a second call skips the drain wait).
  void request_stop();
  // After run(): what should replace this process (a restart or update command, or an
  // update rolled back); the caller execs it once the agent is gone (exec_restart).
  const std::optional<RestartPlan>& restart_plan() const { return restart_plan_; }

 private:
  awaitable<void> main();
  awaitable<void> register_until_accepted();
  awaitable<void> heartbeat_loop();
  awaitable<void> claim_loop();
  awaitable<void> remove_orphans();
  awaitable<void> send_heartbeat(bool going_away);
  void on_stop_signal();
  json registration_body() const;
  // Commands from a heartbeat or claim answer: cancel, drain, and an admin's remote
  // commands (resume, restart, update), which are acknowledged in the next heartbeat.
  void handle_commands(const json& commands);
  void report_command(const std::string& id, bool succeeded, const std::string& message);
  awaitable<void> update_to(RunnerCommand command);
  // Drains, then stops with `plan` to replace this process (restart, update).
  void stop_and_restart(RestartPlan plan);
  // The runner started from a restart or update: what to report, and the update on
  // probation (runner/self_update.h).
  Result<void> check_restart();
  int free_slots() const;
  // RUNNER_METRICS_LISTEN: GET /metrics on the agent's I/O thread (runner/metrics.h).
  Result<void> serve_metrics();
  awaitable<std::string> render_metrics();

  RunnerConfig config_;
  RuntimeFactory make_runtime_;
  asio::io_context io_;
  asio::thread_pool blocking_{2};
  std::unique_ptr<asio::thread_pool> clones_;  // one thread per slot (executor.h, AgentContext)
  std::unique_ptr<ContainerRuntime> runtime_;
  std::unique_ptr<HttpClient> server_;
  std::unique_ptr<RepoCache> repo_cache_;  // null when RUNNER_REPO_CACHE=off
  std::unique_ptr<AgentContext> ctx_;
  std::unique_ptr<WarmPool> pool_;  // DOCKER_POOL_SIZE > 0 with a runtime that can hold
  RunnerMetrics metrics_;
  Router metrics_router_;
  std::unique_ptr<HttpServer> metrics_server_;
  std::string runner_id_;
  std::chrono::milliseconds heartbeat_interval_{10'000};
  json capabilities_ = json::object();
  std::map<std::pair<std::string, int>, std::shared_ptr<JobExecutor>> active_;
  bool draining_ = false;     // told by the server, or shutting down: claim nothing more
  bool stopping_ = false;     // shutdown requested
  bool abort_drain_ = false;  // second signal
  Event slot_freed_;
  Event stop_requested_;
  Event heartbeat_stopped_;
  std::unique_ptr<HttpConnection>* claim_conn_ = nullptr;  // the parked claim, to abort it
  int exit_code_ = 0;
  std::optional<RestartPlan> restart_plan_;
  std::optional<PendingUpdate> install_;    // an update to put in place once drained
  std::optional<PendingUpdate> probation_;  // this binary is an update not yet confirmed
  std::filesystem::path binary_;            // this process's executable
  std::string restart_command_;             // the restart/update command that started us
  std::set<std::string> begun_commands_;    // restart/update ids acted on (a repeat is ignored)
  std::string restart_failure_;             // why the update that started us was rolled back
  bool updating_ = false;                   // an update command is being carried out
  json command_results_ = json::array();    // acknowledgements for the next heartbeat
  Event heartbeat_now_;
  Event registered_;
  // Runner state `error`: why this runner cannot take jobs now ("" = healthy). Checked
  // before each heartbeat: the engine answers, the workspace disk has RUNNER_MIN_FREE_DISK.
  std::string health_error_;
  awaitable<void> check_health();
  bool commands_only() const { return draining_ || !health_error_.empty(); }
  bool claim_aborted_ = false;  // the parked claim was cut short on purpose (drain, resume)
  void abort_parked_claim();
};

}  // namespace corral

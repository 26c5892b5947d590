// Runs one claimed attempt from start to finish:
//
//   start (409 -> drop) -> workspace -> clone (repo) -> image -> create -> run, streaming
//   output -> outcome -> flush log -> finish -> remove container + workspace
//
// A stop can come at any time: a cancel command from the server, the job's timeout, a 409
// (the attempt is stale: kill at once, report nothing) or the runner shutting down (the
// attempt is left for the server to requeue). Whatever happens, the container and the
// workspace are removed and the last lines of output reach the server.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/types.h"
#include "common/redact.h"
#include "net/event.h"
#include "net/http_client.h"
#include "runner/agent_cli.h"
#include "runner/config.h"
#include "runner/log_shipper.h"
#include "runner/metrics.h"
#include "runner/repo_cache.h"
#include "runner/transient.h"
#include "runner/workflow_steps.h"
#include "runner/workspace.h"
#include "runtime/container_runtime.h"

namespace corral {

class WarmPool;

struct AgentContext {
  asio::any_io_executor executor;  // the runner's single I/O thread
  const RunnerConfig& config;
  HttpClient& server;
  ContainerRuntime& runtime;
  asio::thread_pool& blocking;  // short file work: cleanup, result.json, workspace ownership
  asio::thread_pool&
      clones;  // one thread per slot: a clone never waits for, or holds up, the above
  std::string runner_id;
  WarmPool* pool = nullptr;          // DOCKER_POOL_SIZE > 0: warm containers (runner/warm_pool.h)
  RepoCache* repo_cache = nullptr;   // null: RUNNER_REPO_CACHE=off, every attempt clones afresh
  RunnerMetrics* metrics = nullptr;  // null: none kept (tests that make their own context)
};

enum class StopReason { kNone, kCanceled, kTimedOut, kStale, kShutdown };

// Always owned by a shared_ptr: the coroutines it spawns (timeout watch, stop) keep it alive.
class JobExecutor : public std::enable_shared_from_this<JobExecutor> {
 public:
  JobExecutor(AgentContext& ctx, ClaimedJob job);

  awaitable<void> run();
  // Asks the attempt to stop; safe to call at any point, more than once (the first wins).
  void stop(StopReason reason);

  const std::string& job_id() const { return job_.job_id; }
  int attempt() const { return job_.attempt; }
  bool done() const { return done_.is_set(); }
  Event& done_event() { return done_; }

 private:
  awaitable<void> execute();
  awaitable<void> watch_timeout(std::chrono::seconds limit);
  // Clones the job's repository on the clone pool, killing git at RUNNER_CLONE_TIMEOUT_S
  // or when the attempt is stopped. False (and the job failed) when it did not work.
  awaitable<void> watch_clone(std::chrono::seconds limit);
  awaitable<bool> clone(const std::filesystem::path& dir, FinishReport& report,
                        std::string& failure_message);
  awaitable<void> stop_container();
  // A workflow job (spec.workflow): starts the waiting container, runs the steps in it
  // (runner/workflow_steps.h), then ends it; `status` is the container's end.
  awaitable<WorkflowJobOutcome> run_steps(const OutputSink& sink, Result<ExitStatus>& status);
  ContainerSpec container_spec() const;
  awaitable<void> finish(const FinishReport& report);
  awaitable<void> cleanup();
  void fail_attempt(FinishReport& report, std::string& failure_message, FailureReason reason,
                    const std::string& message);
  void note(const std::string& line);  // a "corral: ..." line in the job's log
  // Agent jobs (runner/agent_cli.h): the CLI to ask the wrapper for, the outcome from the
  // CLI's exit and its last events, and the raw events sent to the server.
  std::string agent_cli() const;
  void judge_agent(int exit_code, FinishReport& report, std::string& failure_message);
  awaitable<void> send_events();
  // The token a clone uses: the job's CORRAL_GIT_TOKEN (a secret, or env), else the runner's.
  std::string git_token() const;
  // Every value the log must not show: the job's secrets and the credentials the runner uses.
  SecretMasker secret_masker() const;

  AgentContext& ctx_;
  ClaimedJob job_;
  std::unique_ptr<LogShipper> log_;
  std::string container_id_;
  // The attempt's /workspace on the host: its own directory, or the slot directory of the
  // warm container it took (then pooled_, and the container runs with run_with_input).
  std::filesystem::path workspace_dir_;
  bool pooled_ = false;
  std::vector<std::string> pool_entrypoint_;  // the warm container's image's ENTRYPOINT
  bool run_started_ = false;  // run()/run_with_input() called: stop() now stops the container
  StopReason stop_reason_ = StopReason::kNone;
  bool container_exited_ = false;
  TailBuffer output_tail_{16 * 1024};            // read to classify a failure as transient
  std::unique_ptr<AgentStream> agent_;           // agent jobs: the CLI's output read as events
  std::shared_ptr<CommandKiller> clone_killer_;  // from the clone on: stop() kills git through it
  bool clone_timed_out_ = false;
  Event clone_finished_;
  Event exited_;
  Event shipper_done_;
  Event done_;
};

}  // namespace corral

// ShellRuntime (`--executor shell`): runs a job's command directly on the runner's host,
// like GitLab Runner's shell executor. It ISOLATES NOTHING: the command runs as the
// runner's user, sees the whole filesystem and network, and can outlive the job by
// leaving its process group. Use it only for trusted work on a dedicated machine.
//
// How a ContainerSpec maps onto the host:
//   command / entrypoint  argv (entrypoint first), searched on the runner's PATH
//   working_dir           translated through binds: with "/srv/ws/job1:/workspace",
//                         working_dir "/workspace/src" runs in /srv/ws/job1/src; a
//                         working_dir no bind covers is an error
//   env                   the runner's environment, overridden by spec.env
//   stdin                 /dev/null; stdout and stderr share one pipe, so they arrive
//                         interleaved in the order written
//   image, user, memory_bytes, cpus, pids_limit, network_mode, cap_drop_all,
//   no_new_privileges     NOT enforced, ignored (see capabilities())
//
// Each job is its own process group. When its first process exits, whatever it left
// running in the group is killed; stop() sends SIGTERM to the group, then SIGKILL after
// the grace period. Exit status: the exit code, or 128 + N for death by signal N.
// exec() is not supported. The runner process must not ignore SIGCHLD (children would
// be reaped before their exit code can be read).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "runtime/container_runtime.h"

namespace corral {

class ShellRuntime final : public ContainerRuntime {
 public:
  explicit ShellRuntime(asio::any_io_executor executor);
  // Kills (SIGKILL) every process group still running.
  ~ShellRuntime() override;

  RuntimeCapabilities capabilities() const override;
  awaitable<Result<RuntimeInfo>> info() override;
  // Images mean nothing here: always succeeds.
  awaitable<Result<void>> ensure_image(const std::string& image, PullPolicy policy) override;
  awaitable<Result<std::string>> create(const ContainerSpec& spec) override;
  awaitable<Result<ExitStatus>> run(const std::string& id, OutputSink sink) override;
  awaitable<Result<void>> stop(const std::string& id, std::chrono::seconds grace) override;
  awaitable<Result<void>> kill(const std::string& id) override;
  awaitable<Result<void>> remove(const std::string& id) override;
  // Only the processes this ShellRuntime created (they do not survive a runner restart).
  awaitable<Result<std::vector<ContainerSummary>>> list(const std::string& label_filter) override;
  awaitable<Result<ExecResult>> exec(const std::string& id, const ExecSpec& spec) override;

  struct Process;  // defined in shell_runtime.cpp

 private:
  asio::any_io_executor executor_;
  std::map<std::string, std::shared_ptr<Process>> processes_;
};

// The host directory a container path maps to through binds ("host:container[:ro]"), or
// an error when no bind covers it. Exposed for tests.
Result<std::string> host_path_for(const std::vector<std::string>& binds,
                                  const std::string& container_path);

}  // namespace corral

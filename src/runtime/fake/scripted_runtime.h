// ScriptedRuntime: the ContainerRuntime fake for fast unit tests of the runner. No engine,
// no processes: each container plays a ContainerScript (output pieces, then an exit
// status, or "keep running until stopped"), and every call is recorded so a test can
// assert what the runner asked for. Like the real runtimes it is for one executor, and
// stop()/kill() make a running run() return.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container_runtime.h"

namespace corral {

struct ContainerScript {
  std::vector<std::string> output;  // handed to the sink one piece at a time, in order
  int exit_code = 0;
  bool oom_killed = false;
  bool run_until_stopped = false;  // after the output, keep running until stop()/kill()
  int exit_code_on_stop = 143;     // 128 + SIGTERM
  std::optional<Error> create_error;
  std::optional<Error> run_error;
};

class ScriptedRuntime final : public ContainerRuntime {
 public:
  ScriptedRuntime();
  ~ScriptedRuntime() override;

  // The script the next containers follow (default: no output, exit 0).
  void set_script(ContainerScript script) { script_ = std::move(script); }
  // ensure_image(image, ...) fails with error (an image_pull error, typically).
  void fail_image(const std::string& image, Error error) {
    image_errors_[image] = std::move(error);
  }
  void set_capabilities(RuntimeCapabilities caps) { caps_ = caps; }

  // Every call as text, e.g. "ensure_image alpine if-not-present", "create fake_1",
  // "run fake_1", "stop fake_1 10", "kill fake_1", "remove fake_1", "list corral.runner=r1".
  const std::vector<std::string>& calls() const { return calls_; }
  // The specs create() received, in order.
  const std::vector<ContainerSpec>& created() const { return created_; }
  // Containers created and not removed.
  size_t live_containers() const { return containers_.size(); }
  bool is_running(const std::string& id) const;

  RuntimeCapabilities capabilities() const override { return caps_; }
  awaitable<Result<RuntimeInfo>> info() override;
  awaitable<Result<void>> ensure_image(const std::string& image, PullPolicy policy) override;
  awaitable<Result<std::string>> create(const ContainerSpec& spec) override;
  awaitable<Result<ExitStatus>> run(const std::string& id, OutputSink sink) override;
  awaitable<Result<void>> stop(const std::string& id, std::chrono::seconds grace) override;
  awaitable<Result<void>> kill(const std::string& id) override;
  awaitable<Result<void>> remove(const std::string& id) override;
  awaitable<Result<std::vector<ContainerSummary>>> list(const std::string& label_filter) override;
  awaitable<Result<ExecResult>> exec(const std::string& id, const ExecSpec& spec) override;

  struct Container;  // defined in scripted_runtime.cpp

 private:
  Result<std::shared_ptr<Container>> find(const std::string& id);
  awaitable<Result<void>> end(const std::string& id, int exit_code, std::string what);

  RuntimeCapabilities caps_;
  ContainerScript script_;
  std::map<std::string, Error> image_errors_;
  std::map<std::string, std::shared_ptr<Container>> containers_;
  std::vector<std::string> calls_;
  std::vector<ContainerSpec> created_;
  int next_id_ = 1;
};

}  // namespace corral

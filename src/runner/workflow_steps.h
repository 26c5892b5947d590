// Runs the steps of a workflow job (JobSpec::workflow, made by workflow/run.h job_spec_for)
// in the attempt's container, one after another, as GitHub's runner does: before each step
// the runner evaluates its if: and expressions (workflow/expr.h) with what the earlier steps
// left (outcomes, $GITHUB_OUTPUT, $GITHUB_ENV), writes its script into the workspace and
// has `run` execute it. The log marks each step:
//
//   ==> [2/4] Build
//   ...the step's output...
//   <== [2/4] Build: success in 1.4 s
//
// and each step's {name, id, state, outcome, conclusion, exit_code, started_at, finished_at,
// log_start, log_end} goes into the job's result (result.workflow.steps) with the job's
// outputs (result.workflow.outputs), which the server folds into the run.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/asio.h"

namespace corral {

struct WorkflowStepsIo {
  // Runs argv with env in working_dir (paths inside the container); its output goes to the
  // job's log as it comes. The exit code, or an error when it could not be run at all;
  // kTimeout when it ran past `timeout` (0 = none) and was stopped.
  std::function<awaitable<Result<int>>(std::vector<std::string> argv,
                                       std::map<std::string, std::string> env,
                                       std::string working_dir, std::chrono::milliseconds timeout)>
      run;
  std::function<void(const std::string&)> log;  // a line of the runner's own
  std::function<int64_t()> log_offset;          // bytes of log so far
  std::function<bool()> stopped;                // the attempt is being canceled or timed out
  // The steps so far, the running one last with state "running", sent when a step starts
  // and when it ends (the server shows them live). Optional; best effort.
  std::function<awaitable<void>(const nlohmann::json& steps)> progress;
};

struct WorkflowStepsPlace {
  std::filesystem::path workspace_host;  // the attempt's workspace on the runner's host
  std::string workspace;                 // the same, as the steps see it (/workspace)
  std::string runner_name;
  bool bash_exists = false;  // the image has bash (the default shell then)
};

struct WorkflowJobOutcome {
  bool succeeded = false;
  bool canceled = false;
  std::string failure;  // why it failed, for the log's last line
  nlohmann::json steps = nlohmann::json::array();
  nlohmann::json outputs = nlohmann::json::object();
};

awaitable<WorkflowJobOutcome> run_workflow_steps(const nlohmann::json& spec_workflow,
                                                 const std::map<std::string, std::string>& secrets,
                                                 const WorkflowStepsPlace& place,
                                                 WorkflowStepsIo io);

}  // namespace corral

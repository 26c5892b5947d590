// Pure helpers for the runner as it runs a workflow job's steps in one container: the files a
// step writes its outputs and exported variables to, the environment and command line of a
// step, and how step results fold into the job's result. No I/O: the runner reads the files
// and starts the processes.
//
// A step's life, as GitHub runs it:
//   if: evaluated with step_status(earlier steps)  --false-->  outcome = conclusion = skipped
//     | true
//   run the script: shell_command(shell, script path, bash exists) with step_environment(...)
//     | exit code
//   outcome = success | failure (| cancelled); conclusion = success when continue-on-error
//   read $GITHUB_OUTPUT -> steps.<id>.outputs, $GITHUB_ENV -> the env of later steps
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "workflow/expr.h"
#include "workflow/needs.h"
#include "workflow/workflow.h"

namespace corral::workflow {

// --- $GITHUB_OUTPUT and $GITHUB_ENV
// ---------------------------------------------------------------

// The contents of a $GITHUB_OUTPUT or $GITHUB_ENV file:
//   name=value            (the value is the rest of the line, '=' included)
//   name<<DELIMITER       (the value is every following line up to a line that is exactly
//   line 1                 DELIMITER, joined by newlines, without a final one)
//   line 2
//   DELIMITER
// Empty lines are skipped, a trailing \r is dropped. A name set twice keeps its last value (at
// the place it was first set). Errors (kInvalidSpec) name the line: "line 3: 'oops' is neither
// name=value nor name<<DELIMITER".
Result<EnvList> parse_command_file(std::string_view content);

// --- a step's environment
// --------------------------------------------------------------------------

// What the runner knows about the run and the job; becomes GITHUB_* / RUNNER_* variables and
// the `github` and `runner` contexts.
struct RunFacts {
  std::string sha;
  std::string ref;         // refs/heads/main, refs/tags/v1, refs/pull/7/merge
  std::string repository;  // owner/name
  std::string event_name;  // push, pull_request, workflow_dispatch, schedule
  std::string run_id;
  std::string run_attempt = "1";
  std::string workflow;  // the workflow's name
  std::string job;       // the job's id
  std::string runner_name;
  std::string runner_os = "Linux";
  std::string runner_arch = "X64";
};

// Paths as the step's process sees them (inside the container).
struct StepPaths {
  std::string workspace;    // GITHUB_WORKSPACE, the checkout's directory
  std::string output_file;  // GITHUB_OUTPUT, empty before the step
  std::string env_file;     // GITHUB_ENV, empty before the step
  std::string temp_dir;     // RUNNER_TEMP
};

// {"sha", "ref", "ref_name", "ref_type", "repository", "repository_owner", "event_name",
//  "run_id", "run_attempt", "workflow", "job", "workspace"} for contexts["github"].
nlohmann::json github_context(const RunFacts& facts, const StepPaths& paths);
// {"os", "arch", "name", "temp"} for contexts["runner"].
nlohmann::json runner_context(const RunFacts& facts, const StepPaths& paths);

// The environment of one step, lowest precedence first:
//   CI=true < workflow env < job env < $GITHUB_ENV of earlier steps (`exported`) < step env
//   < GITHUB_ACTIONS, GITHUB_* and RUNNER_* (which a workflow cannot override, as on GitHub).
// Values are interpolated with `contexts`, whose "env" is set to the variables of the layers
// below (a job's env can use ${{ env.X }} of the workflow's). Errors name the variable.
Result<std::map<std::string, std::string>> step_environment(
    const Workflow& workflow, const Job& job, const Step& step, const EnvList& exported,
    const RunFacts& facts, const StepPaths& paths, const nlohmann::json& contexts);

// --- a step's command line
// -------------------------------------------------------------------------

// The argv that runs the script file at `script_path` for `shell:` (as GitHub does):
//   bash       bash --noprofile --norc -eo pipefail {0}
//   sh         sh -e {0}
//   python     python {0}
//   ""         bash -e {0} when the container has bash, else sh -e {0}
//   custom     the template split at spaces, {0} replaced ("perl {0}")
// An error for a template without {0} or for bash when the container has none.
Result<std::vector<std::string>> shell_command(std::string_view shell, std::string_view script_path,
                                               bool bash_exists);

// --- results
// ---------------------------------------------------------------------------------------

// steps.<id>.outcome (before continue-on-error) and .conclusion (after); JobResult's words
// (success, failure, cancelled, skipped) are GitHub's for steps too.
struct StepResult {
  JobResult outcome = JobResult::kSuccess;
  JobResult conclusion = JobResult::kSuccess;
};

// A failed step with continue-on-error has outcome failure and conclusion success.
StepResult fold_step_result(JobResult outcome, bool continue_on_error);

// The status functions (and job.status) for the next step: success() while no earlier step
// concluded failure and the job is not being canceled; failure() once one did.
StatusFunctions step_status(const std::vector<StepResult>& earlier, bool job_cancelled);
std::string_view job_status(const StatusFunctions& status);  // "success" | "failure" | "cancelled"

// A job's result from its steps' conclusions: failure if one failed, else cancelled if one was
// canceled (or `job_cancelled`), else success (all skipped included). With the job's
// continue-on-error, a failure becomes success for the jobs that need it and for the run.
JobResult fold_job_result(const std::vector<StepResult>& steps, bool job_cancelled,
                          bool continue_on_error);

// continue-on-error's value: `value`, or its expression interpolated with `contexts`, which
// must give true or false (or nothing: false).
Result<bool> resolve_bool_setting(const BoolSetting& setting, const nlohmann::json& contexts);

// One entry of the `steps` context: {"outcome", "conclusion", "outputs"}.
nlohmann::json steps_context_entry(const StepResult& result, const EnvList& outputs);

}  // namespace corral::workflow

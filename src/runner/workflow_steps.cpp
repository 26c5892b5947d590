#include "runner/workflow_steps.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/clock.h"
#include "workflow/expr.h"
#include "workflow/steps.h"
#include "workflow/workflow.h"

namespace corral {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string seconds_text(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

TimeMs wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What the server put into the job's github context, as the helpers of workflow/steps.h take it.
workflow::RunFacts facts_from(const json& github, const std::string& runner_name) {
  auto text = [&](const char* key) {
    return github.contains(key) && github[key].is_string() ? github[key].get<std::string>()
                                                           : std::string();
  };
  workflow::RunFacts facts;
  facts.sha = text("sha");
  facts.ref = text("ref");
  facts.repository = text("repository");
  facts.event_name = text("event_name");
  facts.run_id = text("run_id");
  if (!text("run_attempt").empty()) facts.run_attempt = text("run_attempt");
  facts.workflow = text("workflow");
  facts.job = text("job");
  facts.runner_name = runner_name;
  return facts;
}

}  // namespace

awaitable<WorkflowJobOutcome> run_workflow_steps(const json& spec_workflow,
                                                 const std::map<std::string, std::string>& secrets,
                                                 const WorkflowStepsPlace& place,
                                                 WorkflowStepsIo io) {
  WorkflowJobOutcome outcome;
  workflow::Workflow wf;
  workflow::Job job;
  try {
    workflow::from_json(spec_workflow.at("job"), job);
    for (const auto& pair : spec_workflow.value("env", json::array())) {
      wf.env.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
  } catch (const json::exception& e) {
    outcome.failure = std::string("the workflow job the server sent is not readable: ") + e.what();
    co_return outcome;
  }
  json contexts = spec_workflow.value("contexts", json::object());
  if (!contexts.is_object()) contexts = json::object();
  workflow::RunFacts facts =
      facts_from(contexts.value("github", json::object()), place.runner_name);
  const std::string dot_corral = place.workspace + "/.corral";
  workflow::StepPaths paths;
  paths.workspace = place.workspace;
  paths.temp_dir = dot_corral + "/tmp";
  std::error_code ec;
  fs::create_directories(place.workspace_host / ".corral" / "tmp", ec);
  json github = workflow::github_context(facts, paths);
  // Kept: a loop over items() of a temporary would read a destroyed object.
  const json server_github = contexts.value("github", json::object());
  for (const auto& [key, value] : server_github.items()) {
    if (!github.contains(key)) github[key] = value;
  }
  contexts["github"] = github;
  contexts["runner"] = workflow::runner_context(facts, paths);
  contexts["secrets"] = secrets;
  contexts["steps"] = json::object();
  contexts["job"] = {{"status", "success"}};

  auto report = [&](const json& steps) -> awaitable<void> {
    if (io.progress) co_await io.progress(steps);
  };
  std::vector<workflow::StepResult> results;
  workflow::EnvList exported;  // $GITHUB_ENV of the steps so far
  const size_t total = job.steps.size();
  for (size_t i = 0; i < total; ++i) {
    const workflow::Step& step = job.steps[i];
    std::string label = "[" + std::to_string(i + 1) + "/" + std::to_string(total) + "] ";
    workflow::StatusFunctions status = workflow::step_status(results, io.stopped());
    contexts["job"]["status"] = std::string(workflow::job_status(status));
    // Its name as shown: expressions in it evaluated ("Use Node.js ${{ matrix.node }}").
    std::string name = step.display_name();
    if (auto shown = workflow::interpolate(name, contexts, status); shown.ok()) name = *shown;
    json record = {{"name", name}, {"id", step.id}};
    auto go = workflow::evaluate_condition(step.if_condition, contexts, status);
    workflow::JobResult step_outcome = workflow::JobResult::kSuccess;
    std::optional<int> exit_code;
    workflow::EnvList step_outputs;
    auto started = std::chrono::steady_clock::now();
    record["started_at"] = format_time(wall_now());
    record["log_start"] = io.log_offset();
    std::string failure;
    if (go.ok() && !*go) {
      std::string why = !step.if_condition.empty() ? "its if: is false"
                        : status.cancelled         ? "the job is being canceled"
                                                   : "an earlier step failed";
      io.log("==> " + label + name + " (skipped: " + why + ")");
      results.push_back({workflow::JobResult::kSkipped, workflow::JobResult::kSkipped});
      record["state"] = record["outcome"] = record["conclusion"] = "skipped";
      record["finished_at"] = record["started_at"];
      record["log_end"] = io.log_offset();
      outcome.steps.push_back(record);
      if (!step.id.empty())
        contexts["steps"][step.id] = workflow::steps_context_entry(results.back(), {});
      co_await report(outcome.steps);
      continue;
    }
    io.log("==> " + label + name);
    {
      json so_far = outcome.steps;
      so_far.push_back(record);
      so_far.back()["state"] = "running";
      co_await report(so_far);
    }
    if (!go.ok()) {
      failure = "if: " + go.error().message;
      step_outcome = workflow::JobResult::kFailure;
    } else if (step.checkout) {
      // The runner checked the repository out into the workspace before the job started.
      if (!fs::exists(place.workspace_host / ".git")) {
        failure =
            "actions/checkout: this run has no repository to check out; start the run with "
            "repo {url, sha} (corral workflow run FILE --repo URL --sha SHA)";
        step_outcome = workflow::JobResult::kFailure;
      } else {
        io.log("checked out " + facts.repository + " at " +
               (facts.sha.empty() ? facts.ref : facts.sha) + " into " + place.workspace);
        exit_code = 0;
      }
    } else {
      std::string dir = "steps/" + std::to_string(i + 1);
      fs::create_directories(place.workspace_host / ".corral" / dir, ec);
      paths.output_file = dot_corral + "/" + dir + "/output";
      paths.env_file = dot_corral + "/" + dir + "/env";
      std::ofstream(place.workspace_host / ".corral" / dir / "output").flush();
      std::ofstream(place.workspace_host / ".corral" / dir / "env").flush();
      auto script = workflow::interpolate(step.run, contexts, status);
      auto env = workflow::step_environment(wf, job, step, exported, facts, paths, contexts);
      auto argv = workflow::shell_command(step.shell, dot_corral + "/" + dir + "/script",
                                          place.bash_exists);
      std::string working_dir = place.workspace;
      if (!step.working_directory.empty()) {
        auto wd = workflow::interpolate(step.working_directory, contexts, status);
        if (wd.ok()) working_dir = wd->front() == '/' ? *wd : place.workspace + "/" + *wd;
      }
      if (!script.ok() || !env.ok() || !argv.ok()) {
        failure = !script.ok() ? "run: " + script.error().message
                  : !env.ok()  ? "env: " + env.error().message
                               : "shell: " + argv.error().message;
        step_outcome = workflow::JobResult::kFailure;
      } else {
        std::ofstream(place.workspace_host / ".corral" / dir / "script", std::ios::binary)
            << *script;
        std::chrono::milliseconds timeout{0};
        if (step.timeout_minutes) {
          timeout = std::chrono::milliseconds(
              static_cast<int64_t>(std::ceil(*step.timeout_minutes * 60'000)));
        }
        auto ran = co_await io.run(*argv, *env, working_dir, timeout);
        if (!ran.ok()) {
          failure = ran.error().message;
          step_outcome = workflow::JobResult::kFailure;
        } else {
          exit_code = *ran;
          step_outcome = *ran == 0 ? workflow::JobResult::kSuccess : workflow::JobResult::kFailure;
          if (*ran != 0) failure = "exit code " + std::to_string(*ran);
        }
        // What the step left for the ones after it.
        auto outputs = workflow::parse_command_file(
            read_small_file(place.workspace_host / ".corral" / dir / "output"));
        auto exports = workflow::parse_command_file(
            read_small_file(place.workspace_host / ".corral" / dir / "env"));
        if (outputs.ok())
          step_outputs = *outputs;
        else
          io.log("ignored $GITHUB_OUTPUT: " + outputs.error().message);
        if (exports.ok())
          exported.insert(exported.end(), exports->begin(), exports->end());
        else
          io.log("ignored $GITHUB_ENV: " + exports.error().message);
      }
      paths.output_file.clear();
      paths.env_file.clear();
    }
    if (io.stopped() && step_outcome == workflow::JobResult::kFailure)
      step_outcome = workflow::JobResult::kCancelled;
    auto keep_going = workflow::resolve_bool_setting(step.continue_on_error, contexts);
    workflow::StepResult result =
        workflow::fold_step_result(step_outcome, keep_going.ok() && *keep_going);
    results.push_back(result);
    if (!step.id.empty())
      contexts["steps"][step.id] = workflow::steps_context_entry(result, step_outputs);
    std::string word(workflow::job_result_name(result.outcome));
    io.log("<== " + label + name + ": " + word + (failure.empty() ? "" : " (" + failure + ")") +
           " in " + seconds_text(std::chrono::steady_clock::now() - started));
    record["outcome"] = word;
    record["conclusion"] = std::string(workflow::job_result_name(result.conclusion));
    record["state"] = word == "success"     ? "succeeded"
                      : word == "failure"   ? "failed"
                      : word == "cancelled" ? "canceled"
                                            : word;
    record["exit_code"] = exit_code ? json(*exit_code) : json(nullptr);
    if (!failure.empty()) record["message"] = failure;
    record["finished_at"] = format_time(wall_now());
    record["log_end"] = io.log_offset();
    outcome.steps.push_back(record);
    co_await report(outcome.steps);
    if (result.conclusion == workflow::JobResult::kFailure && outcome.failure.empty()) {
      outcome.failure = "step " + label + name + " failed: " + failure;
    }
  }

  // The job's outputs, from what its steps left.
  workflow::StatusFunctions status = workflow::step_status(results, io.stopped());
  for (const auto& [name, expr] : job.outputs) {
    auto value = workflow::interpolate(expr, contexts, status);
    if (value.ok())
      outcome.outputs[name] = *value;
    else
      io.log("output " + name + ": " + value.error().message);
  }
  workflow::JobResult result = workflow::fold_job_result(results, io.stopped(), false);
  outcome.succeeded = result == workflow::JobResult::kSuccess;
  outcome.canceled = result == workflow::JobResult::kCancelled;
  co_return outcome;
}

}  // namespace corral

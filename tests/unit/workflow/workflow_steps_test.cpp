#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "workflow/needs.h"
#include "workflow/steps.h"

namespace corral::workflow {
namespace {

using nlohmann::json;

std::string file_error(std::string_view content) {
  auto parsed = parse_command_file(content);
  if (parsed.ok()) return "parsed";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidSpec);
  return parsed.error().message;
}

// --- $GITHUB_OUTPUT / $GITHUB_ENV ---------------------------------------------------------------

TEST(WorkflowStepsTest, CommandFileNameValueLines) {
  auto parsed =
      parse_command_file("version=1.2.3\nurl=https://x/?a=b\n\nempty=\r\nversion=1.2.4\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (EnvList{{"version", "1.2.4"}, {"url", "https://x/?a=b"}, {"empty", ""}}));
}

// The heredoc form GitHub documents for multi-line values:
//   echo "JSON_RESPONSE<<$EOF" >> "$GITHUB_OUTPUT"; curl ... >> "$GITHUB_OUTPUT";
//   echo "$EOF" >> "$GITHUB_OUTPUT"
TEST(WorkflowStepsTest, CommandFileHeredoc) {
  auto parsed = parse_command_file(
      "before=1\n"
      "JSON_RESPONSE<<ghadelimiter_5a3c\n"
      "{\n"
      "  \"a\": \"x=y\",\n"
      "\n"
      "  \"b\": \"<<not a delimiter\"\n"
      "}\n"
      "ghadelimiter_5a3c\n"
      "single<<EOF\r\n"
      "one line\r\n"
      "EOF\r\n"
      "nothing<<EOF\n"
      "EOF\n"
      "after=a<<b\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed,
            (EnvList{{"before", "1"},
                     {"JSON_RESPONSE", "{\n  \"a\": \"x=y\",\n\n  \"b\": \"<<not a delimiter\"\n}"},
                     {"single", "one line"},
                     {"nothing", ""},
                     {"after", "a<<b"}}));
}

TEST(WorkflowStepsTest, CommandFileRefusals) {
  EXPECT_EQ(file_error("a=1\njust text\n"),
            "line 2: 'just text' is neither name=value nor name<<DELIMITER");
  EXPECT_EQ(file_error("a=1\nlong<<EOF\nx\ny\n"),
            "line 2: the value of 'long' is not ended by a line 'EOF'");
  EXPECT_EQ(file_error("=value\n"), "line 1: '=value' has no valid name before =");
  EXPECT_EQ(file_error("<<EOF\nx\nEOF\n"), "line 1: '<<EOF' has no valid name before <<");
  EXPECT_EQ(file_error("name<<\nx\n"), "line 1: 'name<<' has no delimiter after <<");
  EXPECT_EQ(file_error("my name=x\n"), "line 1: 'my name=x' has no valid name before =");
  EXPECT_EQ(*parse_command_file(""), EnvList{});
}

// --- environment
// ------------------------------------------------------------------------------------

struct EnvFixture {
  Workflow workflow;
  Job job;
  Step step;
  RunFacts facts;
  StepPaths paths;
  json contexts;

  EnvFixture() {
    workflow.name = "CI";
    workflow.env = {{"LEVEL", "workflow"}, {"FROM_WORKFLOW", "w"}, {"CI", "false"}};
    job.id = "build";
    job.env = {{"LEVEL", "job"}, {"FROM_JOB", "${{ env.FROM_WORKFLOW }}-j"}};
    step.id = "compile";
    step.env = {{"LEVEL", "step"}, {"NODE", "${{ matrix.node }}"}, {"GITHUB_SHA", "forged"}};
    facts = {.sha = "abc",
             .ref = "refs/tags/v1.0",
             .repository = "acme/app",
             .event_name = "push",
             .run_id = "42",
             .run_attempt = "2",
             .workflow = "CI",
             .job = "build",
             .runner_name = "r1"};
    paths = {.workspace = "/work/app",
             .output_file = "/runner/out/3",
             .env_file = "/runner/env/3",
             .temp_dir = "/runner/tmp"};
    contexts = {{"matrix", {{"node", 20}}}};
  }
};

TEST(WorkflowStepsTest, StepEnvironmentLayersAndGitHubVariables) {
  EnvFixture f;
  auto env = step_environment(f.workflow, f.job, f.step, {{"LEVEL", "exported"}, {"EXPORTED", "e"}},
                              f.facts, f.paths, f.contexts);
  ASSERT_TRUE(env.ok()) << env.error().message;
  const auto& e = *env;
  EXPECT_EQ(e.at("LEVEL"), "step");  // step < exported < job < workflow
  EXPECT_EQ(e.at("FROM_WORKFLOW"), "w");
  EXPECT_EQ(e.at("FROM_JOB"), "w-j");  // the job's env sees the workflow's
  EXPECT_EQ(e.at("EXPORTED"), "e");
  EXPECT_EQ(e.at("NODE"), "20");
  EXPECT_EQ(e.at("CI"), "false");        // CI may be overridden
  EXPECT_EQ(e.at("GITHUB_SHA"), "abc");  // GITHUB_* may not
  EXPECT_EQ(e.at("GITHUB_ACTIONS"), "true");
  EXPECT_EQ(e.at("GITHUB_WORKSPACE"), "/work/app");
  EXPECT_EQ(e.at("GITHUB_OUTPUT"), "/runner/out/3");
  EXPECT_EQ(e.at("GITHUB_ENV"), "/runner/env/3");
  EXPECT_EQ(e.at("GITHUB_REF"), "refs/tags/v1.0");
  EXPECT_EQ(e.at("GITHUB_REF_NAME"), "v1.0");
  EXPECT_EQ(e.at("GITHUB_REF_TYPE"), "tag");
  EXPECT_EQ(e.at("GITHUB_REPOSITORY"), "acme/app");
  EXPECT_EQ(e.at("GITHUB_REPOSITORY_OWNER"), "acme");
  EXPECT_EQ(e.at("GITHUB_EVENT_NAME"), "push");
  EXPECT_EQ(e.at("GITHUB_RUN_ID"), "42");
  EXPECT_EQ(e.at("GITHUB_RUN_ATTEMPT"), "2");
  EXPECT_EQ(e.at("GITHUB_WORKFLOW"), "CI");
  EXPECT_EQ(e.at("GITHUB_JOB"), "build");
  EXPECT_EQ(e.at("GITHUB_ACTION"), "compile");
  EXPECT_EQ(e.at("RUNNER_TEMP"), "/runner/tmp");
  EXPECT_EQ(e.at("RUNNER_OS"), "Linux");
  EXPECT_EQ(e.at("RUNNER_NAME"), "r1");

  f.workflow.env.clear();
  f.job.env.clear();
  f.step.env.clear();
  auto plain = step_environment(f.workflow, f.job, f.step, {}, f.facts, f.paths, f.contexts);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->at("CI"), "true");
}

TEST(WorkflowStepsTest, StepEnvironmentErrorNamesTheVariable) {
  EnvFixture f;
  f.step.env = {{"BAD", "${{ nope.x }}"}};
  auto env = step_environment(f.workflow, f.job, f.step, {}, f.facts, f.paths, f.contexts);
  ASSERT_FALSE(env.ok());
  EXPECT_THAT(env.error().message,
              ::testing::StartsWith("step compile env BAD: expression 'nope.x': position 1: "
                                    "unknown context 'nope'"));
}

TEST(WorkflowStepsTest, Contexts) {
  EnvFixture f;
  json github = github_context(f.facts, f.paths);
  EXPECT_EQ(github["sha"], "abc");
  EXPECT_EQ(github["ref_name"], "v1.0");
  EXPECT_EQ(github["workspace"], "/work/app");
  f.facts.ref = "refs/heads/feature/x";
  EXPECT_EQ(github_context(f.facts, f.paths)["ref_name"], "feature/x");
  EXPECT_EQ(github_context(f.facts, f.paths)["ref_type"], "branch");
  EXPECT_EQ(runner_context(f.facts, f.paths),
            (json{{"os", "Linux"}, {"arch", "X64"}, {"name", "r1"}, {"temp", "/runner/tmp"}}));
}

// --- shell
// ----------------------------------------------------------------------------------------

std::vector<std::string> argv(std::string_view shell, bool bash_exists = true) {
  auto command = shell_command(shell, "/tmp/step.sh", bash_exists);
  EXPECT_TRUE(command.ok()) << shell << ": " << (command.ok() ? "" : command.error().message);
  return command.ok() ? *command : std::vector<std::string>{};
}

TEST(WorkflowStepsTest, ShellCommandLines) {
  using V = std::vector<std::string>;
  EXPECT_EQ(argv("bash"), (V{"bash", "--noprofile", "--norc", "-eo", "pipefail", "/tmp/step.sh"}));
  EXPECT_EQ(argv("sh"), (V{"sh", "-e", "/tmp/step.sh"}));
  EXPECT_EQ(argv("sh", false), (V{"sh", "-e", "/tmp/step.sh"}));
  EXPECT_EQ(argv(""), (V{"bash", "-e", "/tmp/step.sh"}));
  EXPECT_EQ(argv("", false), (V{"sh", "-e", "/tmp/step.sh"}));
  EXPECT_EQ(argv("python"), (V{"python", "/tmp/step.sh"}));
  EXPECT_EQ(argv("perl  -w {0}"), (V{"perl", "-w", "/tmp/step.sh"}));
  EXPECT_EQ(argv("bash -c 'source {0}'"), (V{"bash", "-c", "'source", "/tmp/step.sh'"}));

  auto no_bash = shell_command("bash", "/tmp/step.sh", false);
  ASSERT_FALSE(no_bash.ok());
  EXPECT_EQ(no_bash.error().message,
            "shell: bash, but the container has no bash; use an image with bash or shell: sh");
  auto no_placeholder = shell_command("perl", "/tmp/step.sh", true);
  ASSERT_FALSE(no_placeholder.ok());
  EXPECT_EQ(no_placeholder.error().message,
            "shell 'perl': a custom shell needs {0} where the script's path goes");
}

// --- results
// --------------------------------------------------------------------------------------

TEST(WorkflowStepsTest, ContinueOnErrorKeepsTheOutcomeButConcludesSuccess) {
  StepResult tolerated = fold_step_result(JobResult::kFailure, true);
  EXPECT_EQ(tolerated.outcome, JobResult::kFailure);
  EXPECT_EQ(tolerated.conclusion, JobResult::kSuccess);
  StepResult failed = fold_step_result(JobResult::kFailure, false);
  EXPECT_EQ(failed.conclusion, JobResult::kFailure);
  StepResult skipped = fold_step_result(JobResult::kSkipped, true);
  EXPECT_EQ(skipped.conclusion, JobResult::kSkipped);

  EXPECT_EQ(
      steps_context_entry(tolerated, {{"report", "ok"}}),
      (json{{"outcome", "failure"}, {"conclusion", "success"}, {"outputs", {{"report", "ok"}}}}));
}

TEST(WorkflowStepsTest, StepStatusAndJobResult) {
  StepResult ok{JobResult::kSuccess, JobResult::kSuccess};
  StepResult tolerated = fold_step_result(JobResult::kFailure, true);
  StepResult failed = fold_step_result(JobResult::kFailure, false);
  StepResult skipped{JobResult::kSkipped, JobResult::kSkipped};

  StatusFunctions s = step_status({ok, tolerated, skipped}, false);
  EXPECT_TRUE(s.success);
  EXPECT_FALSE(s.failure);
  EXPECT_EQ(job_status(s), "success");
  s = step_status({ok, failed, skipped}, false);
  EXPECT_FALSE(s.success);
  EXPECT_TRUE(s.failure);
  EXPECT_EQ(job_status(s), "failure");
  s = step_status({ok}, true);
  EXPECT_FALSE(s.success);
  EXPECT_TRUE(s.cancelled);
  EXPECT_EQ(job_status(s), "cancelled");

  EXPECT_EQ(fold_job_result({ok, tolerated, skipped}, false, false), JobResult::kSuccess);
  EXPECT_EQ(fold_job_result({ok, failed, skipped}, false, false), JobResult::kFailure);
  EXPECT_EQ(fold_job_result({ok, failed}, false, true), JobResult::kSuccess);  // job's c-o-e
  EXPECT_EQ(fold_job_result({ok, skipped}, true, false), JobResult::kCancelled);
  EXPECT_EQ(fold_job_result({ok, failed}, true, false), JobResult::kFailure);
  EXPECT_EQ(fold_job_result({skipped, skipped}, false, false), JobResult::kSuccess);
}

TEST(WorkflowStepsTest, ResolveBoolSetting) {
  json contexts = {{"matrix", {{"experimental", true}, {"stable", false}, {"name", "x"}}}};
  EXPECT_TRUE(*resolve_bool_setting({.value = true, .expression = ""}, contexts));
  EXPECT_FALSE(*resolve_bool_setting({}, contexts));
  EXPECT_TRUE(*resolve_bool_setting({.value = false, .expression = "${{ matrix.experimental }}"},
                                    contexts));
  EXPECT_FALSE(
      *resolve_bool_setting({.value = false, .expression = "${{ matrix.stable }}"}, contexts));
  EXPECT_FALSE(
      *resolve_bool_setting({.value = false, .expression = "${{ matrix.missing }}"}, contexts));
  auto bad = resolve_bool_setting({.value = false, .expression = "${{ matrix.name }}"}, contexts);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "'${{ matrix.name }}' gave 'x', not true or false");
}

// --- needs
// ------------------------------------------------------------------------------------------

std::vector<Job> graph() {
  // build -> test -> deploy, and lint alone; report needs deploy and lint.
  auto wf = parse_workflow(R"(on: push
jobs:
  build: {runs-on: x, steps: [{run: b}]}
  lint: {runs-on: x, steps: [{run: l}]}
  test: {runs-on: x, needs: build, steps: [{run: t}]}
  deploy: {runs-on: x, needs: test, if: "github.ref == 'refs/heads/main'", steps: [{run: d}]}
  report: {runs-on: x, needs: [deploy, lint], if: always(), steps: [{run: r}]}
  notify: {runs-on: x, needs: deploy, if: failure(), steps: [{run: n}]}
)");
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().message);
  return wf.ok() ? wf->jobs : std::vector<Job>{};
}

const Job& job(const std::vector<Job>& jobs, std::string_view id) {
  for (const auto& j : jobs) {
    if (j.id == id) return j;
  }
  static const Job kNone;
  ADD_FAILURE() << "no job " << id;
  return kNone;
}

TEST(WorkflowNeedsTest, OrderKeepsFileOrderWhereFree) {
  auto order = job_needs_order(graph());
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order,
            (std::vector<std::string>{"build", "lint", "test", "deploy", "report", "notify"}));

  std::vector<Job> unknown(1);
  unknown[0].id = "a";
  unknown[0].needs = {"ghost"};
  auto refused = job_needs_order(unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "job 'a' needs 'ghost', which is not a job here");
}

TEST(WorkflowNeedsTest, GateRunsSkipsOrEvaluates) {
  auto jobs = graph();
  using R = JobResult;
  // No needs, no if: runs.
  EXPECT_EQ(job_gate(jobs, job(jobs, "build"), {}, false).kind, JobGate::kRun);
  // Needs succeeded, no if: runs; needs failed: skipped.
  EXPECT_EQ(job_gate(jobs, job(jobs, "test"), {{"build", R::kSuccess}}, false).kind, JobGate::kRun);
  EXPECT_EQ(job_gate(jobs, job(jobs, "test"), {{"build", R::kFailure}}, false).kind,
            JobGate::kSkip);
  EXPECT_EQ(job_gate(jobs, job(jobs, "test"), {{"build", R::kSkipped}}, false).kind,
            JobGate::kSkip);
  // Needs succeeded and an if without status function: the if decides.
  JobGate deploy =
      job_gate(jobs, job(jobs, "deploy"), {{"build", R::kSuccess}, {"test", R::kSuccess}}, false);
  EXPECT_EQ(deploy.kind, JobGate::kEvaluateIf);
  EXPECT_TRUE(deploy.status.success);
  // ... but a failed need skips it without looking at the if.
  EXPECT_EQ(job_gate(jobs, job(jobs, "deploy"), {{"test", R::kFailure}}, false).kind,
            JobGate::kSkip);
  // A canceled run skips jobs without a status function.
  EXPECT_EQ(job_gate(jobs, job(jobs, "test"), {{"build", R::kSuccess}}, true).kind, JobGate::kSkip);
}

TEST(WorkflowNeedsTest, StatusFunctionsSeeEveryAncestor) {
  auto jobs = graph();
  using R = JobResult;
  // build failed, so test and deploy were skipped: report (always()) still runs, and
  // notify's failure() is true although its direct need was only skipped.
  std::map<std::string, R> results = {{"build", R::kFailure},
                                      {"lint", R::kSuccess},
                                      {"test", R::kSkipped},
                                      {"deploy", R::kSkipped}};
  JobGate report = job_gate(jobs, job(jobs, "report"), results, false);
  EXPECT_EQ(report.kind, JobGate::kEvaluateIf);
  EXPECT_TRUE(*evaluate_condition("always()", {}, report.status));
  JobGate notify = job_gate(jobs, job(jobs, "notify"), results, false);
  EXPECT_EQ(notify.kind, JobGate::kEvaluateIf);
  EXPECT_TRUE(notify.status.failure);
  EXPECT_FALSE(notify.status.success);
  EXPECT_TRUE(*evaluate_condition(job(jobs, "notify").if_condition, {}, notify.status));

  // All succeeded: notify's failure() is false.
  std::map<std::string, R> green = {
      {"build", R::kSuccess}, {"test", R::kSuccess}, {"deploy", R::kSuccess}};
  JobGate quiet = job_gate(jobs, job(jobs, "notify"), green, false);
  EXPECT_FALSE(*evaluate_condition(job(jobs, "notify").if_condition, {}, quiet.status));

  // A skipped ancestor makes success() false, as on GitHub.
  std::map<std::string, R> skipped = {{"build", R::kSuccess},
                                      {"test", R::kSuccess},
                                      {"deploy", R::kSkipped},
                                      {"lint", R::kSuccess}};
  EXPECT_FALSE(job_gate(jobs, job(jobs, "report"), skipped, false).status.success);
  EXPECT_EQ(job_result_name(R::kCancelled), "cancelled");
}

}  // namespace
}  // namespace corral::workflow

// workflow/run.h: planning a run, advancing it as its corral jobs finish, cancel, rerun.
#include <gtest/gtest.h>

#include "workflow/run.h"

namespace corral::workflow {
namespace {

using nlohmann::json;

constexpr TimeMs kNow = 1'700'000'000'000;

Run planned(const std::string& yaml, json repo = nullptr) {
  auto wf = parse_workflow(yaml);
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().message);
  auto run =
      plan_run(std::move(wf.value()), "wfr_test", std::move(repo), "push", json::object(), kNow);
  EXPECT_TRUE(run.ok()) << (run.ok() ? "" : run.error().message);
  return std::move(run.value());
}

// The keys of run.jobs at the given indexes.
std::vector<std::string> keys(const Run& run, const std::vector<size_t>& indexes) {
  std::vector<std::string> out;
  for (size_t i : indexes) out.push_back(run.jobs[i].key);
  return out;
}

// What the server does with advance()'s answer: a corral job per submitted job.
std::vector<std::string> submit(Run& run, const Advance& step) {
  std::vector<std::string> ids;
  for (size_t i : step.submit) {
    run.jobs[i].job_id = "job_" + run.jobs[i].key;
    ids.push_back(run.jobs[i].job_id);
  }
  return ids;
}

JobReport finished(const std::string& state, json outputs = json::object()) {
  JobReport r;
  r.state = state;
  r.outputs = std::move(outputs);
  r.finished_at = kNow + 1000;
  return r;
}

constexpr const char* kGraph = R"(name: graph
on: push
jobs:
  build:
    runs-on: [self-hosted, linux, "${{ matrix.os }}"]
    strategy:
      matrix:
        os: [debian, alpine]
    outputs:
      artifact: ${{ steps.pack.outputs.name }}
    steps:
      - uses: actions/checkout@v4
      - id: pack
        run: echo name=app >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: linux
    steps:
      - run: echo test
  notify:
    needs: test
    if: always()
    runs-on: linux
    steps:
      - run: echo notify
)";

TEST(WorkflowRunTest, APlanHasOneJobPerMatrixCombinationAllPending) {
  auto run = planned(kGraph);
  ASSERT_EQ(run.jobs.size(), 4u);
  EXPECT_EQ(run.jobs[0].key, "build.1");
  EXPECT_EQ(run.jobs[0].name, "build (debian)");
  EXPECT_EQ(run.jobs[1].matrix, json({{"os", "alpine"}}));
  EXPECT_EQ(run.jobs[2].key, "test");
  for (const auto& rj : run.jobs) EXPECT_EQ(rj.state, "pending");
  EXPECT_EQ(run.state, "queued");
  // And back from the stored document, unchanged.
  auto again = run_from_doc(to_doc(run));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(to_doc(*again), to_doc(run));
}

TEST(WorkflowRunTest, JobsStartWhenWhatTheyNeedHasSucceededAndOutputsReachThem) {
  auto run = planned(kGraph);
  auto step = advance(run, {}, kNow);
  EXPECT_EQ(keys(run, step.submit), (std::vector<std::string>{"build.1", "build.2"}));
  submit(run, step);
  EXPECT_TRUE(advance(run, {{"job_build.1", finished("running")}}, kNow).submit.empty());
  EXPECT_EQ(run.state, "running");
  // One combination done: test still waits for the other.
  step = advance(run, {{"job_build.1", finished("succeeded", {{"artifact", "app"}})}}, kNow);
  EXPECT_TRUE(step.submit.empty());
  step = advance(run, {{"job_build.2", finished("succeeded", {{"artifact", "app"}})}}, kNow);
  ASSERT_EQ(keys(run, step.submit), (std::vector<std::string>{"test"}));
  submit(run, step);

  auto spec = job_spec_for(run, step.submit[0], "");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  const json& contexts = (*spec->workflow)["contexts"];
  EXPECT_EQ(contexts["needs"]["build"]["outputs"]["artifact"], "app");
  EXPECT_EQ(contexts["needs"]["build"]["result"], "success");
  EXPECT_FALSE(spec->repo.has_value());  // test has no checkout step
  EXPECT_EQ(spec->max_attempts, 1);

  step = advance(run, {{"job_test", finished("succeeded")}}, kNow);
  EXPECT_EQ(keys(run, step.submit), (std::vector<std::string>{"notify"}));
  submit(run, step);
  advance(run, {{"job_notify", finished("succeeded")}}, kNow + 5);
  EXPECT_EQ(run.state, "succeeded");
  EXPECT_EQ(run.finished_at, kNow + 5);
}

TEST(WorkflowRunTest, AMatrixJobsLabelsComeFromItsCombinationWithoutSelfHosted) {
  auto run = planned(kGraph, {{"url", "https://github.com/octo-org/app.git"}, {"sha", "abc1234"}});
  auto spec = job_spec_for(run, 1, "");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->labels, (std::vector<std::string>{"alpine", "linux"}));
  ASSERT_TRUE(spec->repo.has_value());  // build checks out
  EXPECT_EQ(spec->repo->sha, "abc1234");
  EXPECT_EQ((*spec->workflow)["contexts"]["github"]["repository"], "octo-org/app");
  EXPECT_EQ(job_idempotency_key(run, 1), "workflow:wfr_test:1:build.2");
}

TEST(WorkflowRunTest, AFailureSkipsDependentsButAlwaysStillRunsAndFailFastCancelsSiblings) {
  auto run = planned(kGraph);
  submit(run, advance(run, {}, kNow));
  auto step = advance(run, {{"job_build.1", finished("failed")}}, kNow);
  // fail-fast (the default): the other combination is canceled.
  EXPECT_EQ(step.cancel, (std::vector<std::string>{"job_build.2"}));
  EXPECT_EQ(run.jobs[1].state, "canceled");
  EXPECT_NE(run.jobs[1].message.find("fail-fast"), std::string::npos) << run.jobs[1].message;
  EXPECT_EQ(run.jobs[2].state, "skipped");
  EXPECT_TRUE(run.jobs[0].message.empty());  // no steps reported here; see the next test
  // notify's if: always() runs it although test was skipped.
  EXPECT_EQ(keys(run, step.submit), (std::vector<std::string>{"notify"}));
  submit(run, step);
  advance(run, {{"job_notify", finished("succeeded")}}, kNow);
  EXPECT_EQ(run.state, "failed");
}

TEST(WorkflowRunTest, CancelStopsWhatRunsAndRerunFailedRunsItAndItsDependentsAgain) {
  auto run = planned(kGraph);
  submit(run, advance(run, {}, kNow));
  request_cancel(run);
  auto step = advance(run, {}, kNow);
  EXPECT_EQ(step.cancel, (std::vector<std::string>{"job_build.1", "job_build.2"}));
  EXPECT_EQ(run.jobs[2].state, "skipped");
  EXPECT_EQ(keys(run, step.submit), (std::vector<std::string>{"notify"}));  // always()
  submit(run, step);
  advance(run, {{"job_notify", finished("succeeded")}}, kNow);
  EXPECT_EQ(run.state, "canceled");

  ASSERT_TRUE(rerun_failed(run, kNow + 10));
  EXPECT_EQ(run.attempt, 2);
  EXPECT_FALSE(run.cancel_requested);
  EXPECT_EQ(run.finished_at, 0);
  // build (canceled), test (skipped) and notify (needs test) all go again.
  for (const auto& rj : run.jobs) {
    EXPECT_EQ(rj.state, "pending") << rj.key;
    EXPECT_TRUE(rj.job_id.empty()) << rj.key;
  }
  step = advance(run, {}, kNow);
  EXPECT_EQ(keys(run, step.submit), (std::vector<std::string>{"build.1", "build.2"}));
  EXPECT_EQ(job_idempotency_key(run, 0), "workflow:wfr_test:2:build.1");  // a new corral job
}

TEST(WorkflowRunTest, AFailedJobSaysWhichStepFailedAndAnIfSkippedJobIsNotRerun) {
  auto run = planned(
      "on: push\njobs:\n  a:\n    runs-on: linux\n    steps:\n      - run: 'false'\n"
      "  b:\n    if: github.event_name == 'nope'\n    runs-on: linux\n    steps:\n      - run: "
      "'true'\n");
  submit(run, advance(run, {}, kNow));
  EXPECT_EQ(run.jobs[1].state, "skipped");  // its if: is false
  JobReport failed = finished("failed");
  failed.steps =
      json::array({{{"name", "Run false"}, {"conclusion", "failure"}, {"message", "exit code 1"}}});
  advance(run, {{"job_a", failed}}, kNow);
  EXPECT_EQ(run.jobs[0].message, "step 'Run false' failed: exit code 1");
  EXPECT_EQ(run.state, "failed");
  ASSERT_TRUE(rerun_failed(run, kNow));
  EXPECT_EQ(run.jobs[0].state, "pending");
  EXPECT_EQ(run.jobs[1].state, "skipped");  // not a dependent of a, not failed
  EXPECT_TRUE(to_api_json(run).contains("cancel_requested"));
}

TEST(WorkflowRunTest, StepsReportedWhileAJobRunsShowUntilItEndsAndTheRunStartsWithItsFirstJob) {
  auto run = planned(kGraph);
  submit(run, advance(run, {}, kNow));
  EXPECT_EQ(run.started_at, 0);
  JobReport running;
  running.state = "running";
  running.started_at = kNow + 5;
  JobReport later = running;
  later.started_at = kNow + 9;
  EXPECT_TRUE(advance(run, {{"job_build.1", later}, {"job_build.2", running}}, kNow).changed);
  EXPECT_EQ(run.state, "running");
  EXPECT_EQ(run.started_at, kNow + 5);  // the earliest of its jobs
  EXPECT_EQ(to_api_json(run_from_doc(to_doc(run)).value())["started_at"],
            to_api_json(run)["started_at"]);

  json live = json::array(
      {{{"name", "checkout"}, {"state", "succeeded"}}, {{"name", "pack"}, {"state", "running"}}});
  EXPECT_TRUE(report_steps(run, "build.1", "job_build.1", live, kNow));
  EXPECT_EQ(run.jobs[0].steps, live);
  EXPECT_FALSE(report_steps(run, "build.1", "job_build.1", live, kNow));            // nothing new
  EXPECT_FALSE(report_steps(run, "build.1", "job_of_attempt_1", live, kNow));       // an old job
  EXPECT_FALSE(report_steps(run, "nosuch", "job_build.1", live, kNow));             // no such key
  EXPECT_FALSE(report_steps(run, "build.1", "job_build.1", json::object(), kNow));  // not a list

  // Ended without steps of its own (canceled by fail-fast here): the running step ends so.
  advance(run, {{"job_build.2", finished("failed")}}, kNow);
  EXPECT_EQ(run.jobs[0].state, "canceled");
  EXPECT_EQ(run.jobs[0].steps[0]["state"], "succeeded");
  EXPECT_EQ(run.jobs[0].steps[1]["state"], "canceled");
  EXPECT_FALSE(report_steps(run, "build.1", "job_build.1", live, kNow));  // the job has ended
}

TEST(WorkflowRunTest, StepsReportedBeforeTheJobsStartIsSeenStartTheJobAndTheRun) {
  auto run = planned(kGraph);
  submit(run, advance(run, {}, kNow));
  json live = json::array({{{"name", "checkout"}, {"state", "running"}}});
  EXPECT_TRUE(report_steps(run, "build.1", "job_build.1", live, kNow + 3));
  EXPECT_EQ(run.jobs[0].started_at, kNow + 3);
  EXPECT_EQ(run.started_at, kNow + 3);
  EXPECT_TRUE(to_api_json(run)["started_at"].is_string());
}

TEST(WorkflowRunTest, NothingToRerunInASucceededRun) {
  auto run =
      planned("on: push\njobs:\n  a:\n    runs-on: linux\n    steps:\n      - run: 'true'\n");
  submit(run, advance(run, {}, kNow));
  advance(run, {{"job_a", finished("succeeded")}}, kNow);
  EXPECT_EQ(run.state, "succeeded");
  EXPECT_FALSE(rerun_failed(run, kNow));
  EXPECT_EQ(run.attempt, 1);
}

TEST(WorkflowRunTest, AJobIfThatDoesNotEvaluateFailsThatJobWithTheReason) {
  auto run = planned(
      "on: push\njobs:\n  a:\n    runs-on: linux\n    if: github.event_name ==\n"
      "    steps:\n      - run: 'true'\n");
  auto step = advance(run, {}, kNow);
  EXPECT_TRUE(step.submit.empty());
  EXPECT_EQ(run.jobs[0].state, "failed");
  EXPECT_NE(run.jobs[0].message.find("jobs.a.if"), std::string::npos) << run.jobs[0].message;
  EXPECT_EQ(run.state, "failed");
}

TEST(WorkflowRunTest, ACheckoutWithAPathIsRefusedWhenTheRunIsPlanned) {
  auto wf = parse_workflow(
      "on: push\njobs:\n  a:\n    runs-on: linux\n    steps:\n"
      "      - uses: actions/checkout@v4\n        with:\n          path: src\n");
  ASSERT_TRUE(wf.ok()) << wf.error().message;
  auto run = plan_run(std::move(wf.value()), "wfr_x", nullptr, "push", json::object(), kNow);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.error().message.find("with.path is not supported"), std::string::npos)
      << run.error().message;
}

}  // namespace
}  // namespace corral::workflow

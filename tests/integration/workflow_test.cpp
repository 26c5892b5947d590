// Workflow runs (docs/workflows.md) through the real server, a real `corral runner` with the
// Docker executor on Podman, and real git repositories: the YAML is parsed by the server,
// each job (each matrix combination) becomes a corral job, and the runner runs its steps
// one after another in the job's container.
#include <gtest/gtest.h>

#include <fstream>

#include "common/crypto.h"
#include "integration/harness.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// Monk CI's Node.js example, as GitHub documents it, with actions/setup-node (outside the
// subset) replaced by a run step and npm by commands the busybox test image has.
constexpr const char* kNodeCi = R"yaml(name: Node.js CI
on:
  push:
    branches: [ main ]
  pull_request:
    branches: [ main ]
env:
  GREETING: hello
jobs:
  build:
    runs-on: [self-hosted, linux]
    strategy:
      matrix:
        node-version: [16.x, 18.x]
    outputs:
      artifact: ${{ steps.pack.outputs.artifact }}
    steps:
      - uses: actions/checkout@v3
      - name: Use Node.js ${{ matrix.node-version }}
        run: echo "node ${{ matrix.node-version }} on ${{ github.repository }} at ${{ github.sha }}"
      - name: Install
        run: cat package.json
      - id: pack
        run: |
          echo "building with $GREETING"
          echo "artifact=app-${{ matrix.node-version }}.tgz" >> "$GITHUB_OUTPUT"
          echo "STAMP=stamped" >> "$GITHUB_ENV"
      - name: Test
        run: test "$STAMP" = stamped && echo "tests pass on ${{ matrix.node-version }}"
  report:
    needs: build
    runs-on: linux
    steps:
      - run: echo "built ${{ needs.build.outputs.artifact }} (${{ needs.build.result }})"
)yaml";

// Monk CI's Docker image example, `docker build` replaced by what the test image has.
constexpr const char* kDockerImage = R"yaml(name: Docker Image CI
on:
  push:
    branches: [ "main" ]
  pull_request:
    branches: [ "main" ]
jobs:
  build:
    runs-on: [self-hosted, linux]
    steps:
    - uses: actions/checkout@v3
    - name: Build the Docker image
      run: test -f Dockerfile && echo "built my-image-name:$(date +%s) $(head -n 1 Dockerfile)"
)yaml";

// A failing job: what needs it is skipped, unless its if: calls a status function; step
// conditions and outputs between steps.
constexpr const char* kFailing = R"yaml(name: checks
on: push
jobs:
  lint:
    runs-on: linux
    steps:
      - id: check
        run: echo "value=42" >> "$GITHUB_OUTPUT"
      - if: steps.check.outputs.value == '42'
        run: echo "condition held"
      - if: steps.check.outputs.value == '41'
        run: echo "never printed"
      - name: Break
        run: exit 3
      - run: echo "after the failure"
      - if: failure()
        run: echo "cleanup after failure"
      - if: always()
        run: echo "always runs"
  deploy:
    needs: lint
    runs-on: linux
    steps:
      - run: echo deploying
  notify:
    needs: lint
    if: always()
    runs-on: linux
    timeout-minutes: 2.5
    steps:
      - run: echo "notified ${{ needs.lint.result }}"
      - name: Slow
        timeout-minutes: 0.05
        continue-on-error: true
        run: echo "slow step started"; sleep 300; echo "slow step finished"
      - run: echo "after the timeout"
)yaml";

class WorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty())
      GTEST_SKIP() << "DOCKER_HOST is not set: run through scripts/test.sh";
    server_ = std::make_unique<ServerProcess>();
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
    runner_ = std::make_unique<RunnerProcess>(
        *server_, "wf-runner",
        std::map<std::string, std::string>{{"RUNNER_LABELS", "linux"},
                                           {"RUNNER_MAX_CONCURRENT_JOBS", "2"}});
  }

  json start(const std::string& yaml, json extra = json::object()) {
    extra["workflow"] = yaml;
    return api_->post("/api/v1/workflow-runs", extra, 201);
  }

  json wait_for_run(const std::string& id, std::chrono::seconds timeout = 90s) {
    json run;
    bool done = wait_until(
        [&] {
          run = api_->get("/api/v1/workflow-runs/" + id);
          std::string s = run["state"];
          return s == "succeeded" || s == "failed" || s == "canceled";
        },
        timeout, 50ms);
    EXPECT_TRUE(done) << run.dump(2) << runner_->log();
    return run;
  }

  static const json& job_of(const json& run, const std::string& key) {
    for (const auto& job : run["jobs"]) {
      if (job["key"] == key) return job;
    }
    static const json none;
    ADD_FAILURE() << "no job " << key << " in " << run.dump(2);
    return none;
  }

  std::string log_of(const json& job) {
    auto res = api_->request(http::verb::get,
                             "/api/v1/jobs/" + job["job_id"].get<std::string>() + "/logs");
    return res.body;
  }

  // A repository with a package.json, at its first commit: {url, sha}.
  json make_repo() {
    repo_dir_ = make_temp_dir("corral-wf-repo");
    auto git = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
      auto out = run_command(args, {}, repo_dir_);
      EXPECT_TRUE(out.ok() && out->exit_code == 0)
          << (out.ok() ? out->output : out.error().message);
    };
    git({"init", "-q", "-b", "main"});
    std::ofstream(repo_dir_ / "package.json") << R"({"name": "octo-app", "version": "1.0.0"})"
                                              << "\n";
    std::ofstream(repo_dir_ / "Dockerfile") << "FROM busybox:stable\n";
    git({"add", "."});
    git({"commit", "-q", "-m", "first"});
    auto sha = run_command({"git", "rev-parse", "HEAD"}, {}, repo_dir_)->output;
    sha.erase(sha.find_last_not_of("\n") + 1);
    return {{"url", "file://" + repo_dir_.string()}, {"ref", "refs/heads/main"}, {"sha", sha}};
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<RunnerProcess> runner_;
  fs::path repo_dir_;
};

TEST_F(WorkflowTest, TheNodeCiAndDockerImageExamplesRunWithMatrixNeedsAndOutputs) {
  json repo = make_repo();
  json docker = start(kDockerImage, {{"repo", repo}, {"event", "pull_request"}});
  json run = start(kNodeCi, {{"repo", repo}, {"event", "push"}});
  EXPECT_EQ(run["name"], "Node.js CI");
  ASSERT_EQ(run["jobs"].size(), 3u) << run.dump(2);
  EXPECT_EQ(job_of(run, "build.1")["name"], "build (16.x)");
  EXPECT_EQ(job_of(run, "build.2")["name"], "build (18.x)");
  EXPECT_EQ(job_of(run, "build.2")["matrix"], json({{"node-version", "18.x"}}));
  EXPECT_EQ(job_of(run, "report")["needs"], json({"build"}));
  EXPECT_EQ(job_of(run, "report")["state"], "pending");  // until both builds finish
  EXPECT_TRUE(job_of(run, "build.1")["job_id"].is_string()) << run.dump(2);

  run = wait_for_run(run["id"]);
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2) << runner_->log();
  for (const std::string key : {"build.1", "build.2"}) {
    const json& build = job_of(run, key);
    std::string version = key == "build.1" ? "16.x" : "18.x";
    EXPECT_EQ(build["state"], "succeeded");
    EXPECT_EQ(build["outputs"]["artifact"], "app-" + version + ".tgz") << build.dump(2);
    ASSERT_EQ(build["steps"].size(), 5u) << build.dump(2);
    EXPECT_EQ(build["steps"][0]["name"], "Run actions/checkout@v3");
    EXPECT_EQ(build["steps"][1]["name"], "Use Node.js " + version);
    for (const auto& step : build["steps"]) EXPECT_EQ(step["state"], "succeeded") << step.dump();
    std::string log = log_of(build);
    EXPECT_NE(log.find("==> [1/5] Run actions/checkout@v3"), std::string::npos) << log;
    EXPECT_NE(log.find("node " + version + " on tmp/" + repo_dir_.filename().string()),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(repo["sha"].get<std::string>()), std::string::npos) << log;
    EXPECT_NE(log.find("\"name\": \"octo-app\""), std::string::npos) << log;    // checked out
    EXPECT_NE(log.find("building with hello"), std::string::npos) << log;       // workflow env
    EXPECT_NE(log.find("tests pass on " + version), std::string::npos) << log;  // GITHUB_ENV
    EXPECT_NE(log.find("<== [5/5] Test: success"), std::string::npos) << log;
    json job = api_->get("/api/v1/jobs/" + build["job_id"].get<std::string>());
    EXPECT_EQ(job["labels"], json({"linux"})) << job.dump();  // self-hosted is every runner
  }
  const json& report = job_of(run, "report");
  EXPECT_EQ(report["state"], "succeeded");
  std::string log = log_of(report);
  EXPECT_TRUE(log.find("built app-16.x.tgz (success)") != std::string::npos ||
              log.find("built app-18.x.tgz (success)") != std::string::npos)
      << log;

  docker = wait_for_run(docker["id"]);
  ASSERT_EQ(docker["state"], "succeeded") << docker.dump(2);
  EXPECT_EQ(docker["event"], "pull_request");
  std::string built = log_of(job_of(docker, "build"));
  EXPECT_NE(built.find("built my-image-name:"), std::string::npos) << built;
  EXPECT_NE(built.find("FROM busybox:stable"), std::string::npos) << built;

  json runs = api_->get("/api/v1/workflow-runs")["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["id"], run["id"]);  // newest first
  EXPECT_EQ(runs[1]["id"], docker["id"]);
}

TEST_F(WorkflowTest, AFailedJobSkipsWhatNeedsItAndStepConditionsDecideWhatRuns) {
  json run = wait_for_run(start(kFailing)["id"]);
  EXPECT_EQ(run["state"], "failed") << run.dump(2);
  const json& lint = job_of(run, "lint");
  EXPECT_EQ(lint["state"], "failed");
  std::vector<std::string> states;
  for (const auto& step : lint["steps"]) states.push_back(step["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"succeeded", "succeeded", "skipped", "failed",
                                              "skipped", "succeeded", "succeeded"}))
      << lint.dump(2);
  EXPECT_EQ(lint["steps"][3]["exit_code"], 3);
  std::string log = log_of(lint);
  EXPECT_NE(log.find("condition held"), std::string::npos) << log;
  EXPECT_EQ(log.find("\nnever printed"), std::string::npos) << log;
  EXPECT_NE(log.find("Run echo \"after the failure\" (skipped: an earlier step failed)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("after the failure\n"), std::string::npos) << log;
  EXPECT_NE(log.find("cleanup after failure"), std::string::npos) << log;
  EXPECT_NE(log.find("always runs"), std::string::npos) << log;
  EXPECT_NE(log.find("<== [4/7] Break: failure (exit code 3)"), std::string::npos) << log;

  EXPECT_EQ(job_of(run, "deploy")["state"], "skipped");
  EXPECT_TRUE(job_of(run, "deploy")["job_id"].is_null());  // never queued
  const json& notify = job_of(run, "notify");
  EXPECT_EQ(notify["state"], "succeeded") << notify.dump(2);
  std::string notify_log = log_of(notify);
  EXPECT_NE(notify_log.find("notified failure"), std::string::npos);
  // timeout-minutes: the job's (2.5) is its corral job's timeout; the step's (0.05 = 3 s)
  // stops that step only, and the container stays for the steps after it.
  EXPECT_EQ(api_->get("/api/v1/jobs/" + notify["job_id"].get<std::string>())["spec"]["timeout_s"],
            150);
  const json& slow = notify["steps"][1];
  EXPECT_EQ(slow["state"], "failed") << notify.dump(2);
  EXPECT_EQ(slow["conclusion"], "success");  // continue-on-error
  EXPECT_NE(slow.value("message", "").find("ran past its timeout-minutes (3.0 s)"),
            std::string::npos)
      << slow.dump(2);
  EXPECT_NE(notify_log.find("slow step started"), std::string::npos) << notify_log;
  EXPECT_EQ(notify_log.find("slow step finished"), std::string::npos) << notify_log;
  EXPECT_NE(notify_log.find("after the timeout"), std::string::npos) << notify_log;
}

TEST_F(WorkflowTest, ABadWorkflowIsRefusedWithItsLineAndNothingIsQueued) {
  std::string yaml =
      "name: bad\non: push\njobs:\n  build:\n    runs-on: linux\n    steps:\n"
      "      - uses: actions/checkout@v3\n      - uses: actions/setup-node@v3\n";
  json refused = api_->post("/api/v1/workflow-runs", {{"workflow", yaml}}, 422);
  std::string message = refused["error"]["message"];
  EXPECT_NE(message.find("line 8"), std::string::npos) << message;
  EXPECT_NE(message.find("actions/setup-node@v3"), std::string::npos) << message;
  json unknown =
      api_->post("/api/v1/workflow-runs",
                 {{"workflow", "on: push\njobs:\n  a:\n    runs-on: linux\n    stepz: []\n"}}, 422);
  EXPECT_NE(unknown["error"]["message"].get<std::string>().find("line 5"), std::string::npos)
      << unknown.dump();
  api_->post("/api/v1/workflow-runs", {{"workflow", 42}}, 422);
  api_->post("/api/v1/workflow-runs", {{"workflow", kFailing}, {"repo", {{"url", 7}}}}, 422);
  // A job of the runner protocol's own cannot pose as a workflow job.
  api_->post("/api/v1/jobs", {{"workflow", {{"job", {{"steps", json::array()}}}}}}, 422);
  EXPECT_TRUE(api_->get("/api/v1/workflow-runs")["runs"].empty());
  EXPECT_TRUE(api_->get("/api/v1/jobs")["jobs"].empty());

  // The CLI says the same and exits non-zero.
  auto file = make_temp_dir("corral-wf-bad") / "ci.yml";
  std::ofstream(file) << yaml;
  auto out =
      run_corral({"workflow", "run", file.string()},
                 {{"CORRAL_SERVER", server_->url()}, {"CORRAL_TOKEN", server_->admin_token()}});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.err.find("line 8"), std::string::npos) << out.err;
}

TEST_F(WorkflowTest, CancelStopsTheRunningJobAndSkipsWhatWaitsAndRerunFailedRunsItAgain) {
  // Attempt 1 sleeps until canceled; the rerun (attempt 2) passes at once.
  std::string yaml = R"(name: slow
on: workflow_dispatch
jobs:
  wait:
    runs-on: linux
    steps:
      - name: Prepare
        run: echo prepared
      - name: Sleep
        run: test "${{ github.run_attempt }}" = 2 || sleep 120
  after:
    needs: wait
    runs-on: linux
    steps:
      - run: echo "after ran in attempt ${{ github.run_attempt }}"
)";
  json run = start(yaml);
  std::string id = run["id"];
  std::string job_id = job_of(run, "wait")["job_id"];
  // The steps show as they run, before the job ends: the runner reports each start and end.
  auto steps_are = [&](const json& r, std::vector<std::string> want) {
    std::vector<std::string> states;
    for (const auto& step : job_of(r, "wait")["steps"]) states.push_back(step["state"]);
    return states == want;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        run = api_->get("/api/v1/workflow-runs/" + id);
        return steps_are(run, {"succeeded", "running"});
      },
      60s))
      << run.dump(2);
  EXPECT_EQ(job_of(run, "wait")["steps"][1]["name"], "Sleep");
  EXPECT_TRUE(run["started_at"].is_string()) << run.dump(2);
  EXPECT_TRUE(run["finished_at"].is_null());
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server_->url()},
                                         {"CORRAL_TOKEN", server_->admin_token()}};
  auto live = run_corral({"workflow", "show", id}, env);
  EXPECT_NE(live.out.find("running  Sleep"), std::string::npos) << live.out;

  json canceled = api_->post("/api/v1/workflow-runs/" + id + "/cancel", json::object(), 200);
  run = wait_for_run(id, 60s);
  EXPECT_EQ(run["state"], "canceled") << run.dump(2);
  EXPECT_EQ(job_of(run, "wait")["state"], "canceled");
  EXPECT_EQ(job_of(run, "after")["state"], "skipped");
  // The corral job ends when its runner has stopped the container.
  EXPECT_TRUE(
      wait_until([&] { return api_->get("/api/v1/jobs/" + job_id)["state"] == "canceled"; }, 30s));
  api_->post("/api/v1/workflow-runs/" + id + "/cancel", json::object(), 409);  // finished
  // The step that was running ended as its job did.
  run = api_->get("/api/v1/workflow-runs/" + id);
  EXPECT_EQ(job_of(run, "wait")["steps"][1]["state"], "canceled") << run.dump(2);

  // Through the CLI, as a user would.
  auto rerun = run_corral({"workflow", "rerun-failed", id}, env);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  run = wait_for_run(id, 60s);
  EXPECT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["attempt"], 2);
  EXPECT_NE(job_of(run, "wait")["job_id"], job_id);  // a new corral job
  EXPECT_NE(log_of(job_of(run, "after")).find("after ran in attempt 2"), std::string::npos);
  auto shown = run_corral({"workflow", "show", id}, env);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("succeeded"), std::string::npos) << shown.out;
  auto listed = run_corral({"workflow", "runs"}, env);
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
}

TEST_F(WorkflowTest, ASignedPushStartsTheWorkflowsItTriggersOnceAndUnsignedOnesAreRefused) {
  json repo = make_repo();
  // The repository's workflows: one for pushes to main, one for pull requests only, and one
  // that is not valid.
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
    auto out = run_command(args, {}, repo_dir_);
    ASSERT_TRUE(out.ok() && out->exit_code == 0) << (out.ok() ? out->output : out.error().message);
  };
  fs::create_directories(repo_dir_ / ".github" / "workflows");
  std::ofstream(repo_dir_ / ".github/workflows/ci.yml") << kDockerImage;
  std::ofstream(repo_dir_ / ".github/workflows/pr-only.yml")
      << "on: pull_request\njobs:\n  a:\n    runs-on: linux\n    steps:\n      - run: echo pr\n";
  std::ofstream(repo_dir_ / ".github/workflows/nightly.yml")
      << "name: nightly\non:\n  schedule:\n    - cron: '0 3 * * *'\njobs:\n  a:\n    runs-on: "
         "linux\n"
         "    steps:\n      - run: echo \"nightly at ${{ github.sha }} for ${{ github.event_name "
         "}}\"\n";
  std::ofstream(repo_dir_ / ".github/workflows/broken.yml")
      << "on: push\njobs:\n  a:\n    runs-on: linux\n    steps:\n      - uses: actions/cache@v3\n";
  git({"add", "."});
  git({"commit", "-q", "-m", "workflows"});
  std::string sha = run_command({"git", "rev-parse", "HEAD"}, {}, repo_dir_)->output;
  sha.erase(sha.find_last_not_of("\n") + 1);

  const std::string secret = "webhook-s3cret";
  auto put = api_->request(http::verb::put, "/api/v1/repos/octo-org/app",
                           json{{"url", repo["url"]}, {"webhook_secret", secret}}.dump(),
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(put.status, 200) << put.body;
  json mapping = api_->get("/api/v1/repos/octo-org/app");
  EXPECT_EQ(mapping["webhook_secret_set"], true) << mapping.dump();
  EXPECT_EQ(mapping.dump().find(secret), std::string::npos);  // never shown

  std::string payload =
      json{{"ref", "refs/heads/main"},
           {"after", sha},
           {"repository",
            {{"full_name", "Octo-Org/App"}, {"clone_url", "https://example.invalid/x.git"}}},
           {"commits", {{{"added", {".github/workflows/ci.yml"}}, {"modified", {"README"}}}}}}
          .dump();
  auto deliver = [&](const std::string& delivery, const std::string& signature) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"},
                                                             {"X-GitHub-Event", "push"},
                                                             {"X-GitHub-Delivery", delivery}};
    if (!signature.empty()) headers.emplace_back("X-Hub-Signature-256", signature);
    Api anonymous(server_->url(), "");
    return anonymous.request(http::verb::post, "/api/v1/hooks/github", payload, headers);
  };
  std::string good = "sha256=" + hmac_sha256_hex(secret, payload);
  EXPECT_EQ(deliver("d-unsigned", "").status, 401);
  EXPECT_EQ(deliver("d-wrong", "sha256=" + hmac_sha256_hex("another secret", payload)).status, 401);
  auto accepted = deliver("d-1", good);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  auto again = deliver("d-1", good);  // GitHub redelivers
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);
  EXPECT_EQ(json::parse(again.body)["job_id"], json::parse(accepted.body)["job_id"]);

  // The runner reads the workflows at the pushed sha; the server starts ci.yml and records
  // broken.yml as failed; pr-only.yml is not for pushes.
  json runs;
  ASSERT_TRUE(wait_until(
      [&] {
        runs = api_->get("/api/v1/workflow-runs")["runs"];
        return runs.size() >= 2;
      },
      60s))
      << runs.dump(2) << runner_->log();
  json ci, broken;
  for (const auto& r : runs) (r["name"] == "Docker Image CI" ? ci : broken) = r;
  ASSERT_TRUE(ci.is_object() && broken.is_object()) << runs.dump(2);
  EXPECT_EQ(broken["state"], "failed");
  EXPECT_NE(broken["error"].get<std::string>().find(".github/workflows/broken.yml: line 6"),
            std::string::npos)
      << broken.dump(2);
  ci = wait_for_run(ci["id"]);
  EXPECT_EQ(ci["state"], "succeeded") << ci.dump(2);
  EXPECT_EQ(ci["event"], "push");
  EXPECT_EQ(ci["repo"]["sha"], sha);
  EXPECT_NE(log_of(job_of(ci, "build")).find("FROM busybox:stable"), std::string::npos);
  EXPECT_EQ(api_->get("/api/v1/workflow-runs")["runs"].size(), 2u);  // one delivery, one start each

  // A schedule starts the repository's workflows with on: schedule, at the branch's head.
  api_->post("/api/v1/schedules",
             {{"name", "repo-nightly"},
              {"cron", "* * * * *"},
              {"workflows", {{"url", repo["url"]}, {"ref", "main"}}}},
             201);
  json nightly;
  ASSERT_TRUE(wait_until(
      [&] {
        json runs =
            api_->get("/api/v1/workflow-runs")["runs"];  // kept: a loop over a temporary dangles
        for (const auto& r : runs) {
          if (r["name"] == "nightly") nightly = r;
        }
        return nightly.is_object();
      },
      90s))
      << runner_->log();
  nightly = wait_for_run(nightly["id"]);
  EXPECT_EQ(nightly["state"], "succeeded") << nightly.dump(2);
  EXPECT_EQ(nightly["event"], "schedule");
  EXPECT_EQ(nightly["repo"]["sha"], sha);
  EXPECT_NE(log_of(job_of(nightly, "a")).find("nightly at " + sha + " for schedule"),
            std::string::npos);
  // Neither ci.yml (no schedule) nor broken.yml (reported on pushes) start at a tick.
  EXPECT_EQ(api_->get("/api/v1/workflow-runs")["runs"].size(), 3u);
}

}  // namespace
}  // namespace corral::testing

// Matching and "why" with real `corral runner` processes: labels, groups, modes, offline.
#include <thread>
#include <vector>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

class Scheduling : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty())
      GTEST_SKIP() << "DOCKER_HOST is not set: run through scripts/test.sh";
    server_ = std::make_unique<ServerProcess>(
        std::map<std::string, std::string>{{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"},
                                           {"RUNNER_HEARTBEAT_TIMEOUT_MS", "1000"},
                                           {"CORRAL_SWEEP_INTERVAL_MS", "100"}});
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  void TearDown() override {
    runners_.clear();
    server_.reset();
  }
  RunnerProcess& start_runner(const std::string& name, std::map<std::string, std::string> env) {
    runners_.push_back(std::make_unique<RunnerProcess>(*server_, name, std::move(env)));
    return *runners_.back();
  }
  std::string submit(json spec) {
    spec["command"] = {"true"};
    return api_->post("/api/v1/jobs", spec, 201)["id"];
  }
  std::string ran_on(const std::string& id) {
    auto job = wait_for_job(*api_, id, {"succeeded", "failed", "canceled"}, 60s);
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
    return job["attempts"].empty() ? "" : job["attempts"].back()["runner_name"].get<std::string>();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

TEST_F(Scheduling, LabelsGroupsAndModesDecideWhichRealRunnerTakesAJob) {
  start_runner("ci-box", {{"RUNNER_LABELS", "linux"}, {"RUNNER_MODES", "ci"}});
  start_runner("gpu-box", {{"RUNNER_LABELS", "linux,gpu"}, {"RUNNER_GROUP", "gpu-pool"}});
  std::string gpu = submit({{"labels", {"gpu"}}});
  std::string in_group = submit({{"group", "gpu-pool"}});
  std::string review =
      submit({{"labels", {"linux"}}, {"type", "review"}});  // ci-box takes only "ci"
  std::string ci = submit({{"labels", {"linux"}}, {"type", "ci"}, {"group", "default"}});
  std::string arm = submit({{"labels", {"arm64", "linux"}}});
  EXPECT_EQ(ran_on(gpu), "gpu-box");
  EXPECT_EQ(ran_on(in_group), "gpu-box");
  EXPECT_EQ(ran_on(review), "gpu-box");
  EXPECT_EQ(ran_on(ci), "ci-box");

  // Nobody has arm64: it waits, and why says who comes closest and what it lacks.
  EXPECT_EQ(api_->get("/api/v1/jobs/" + arm)["state"], "queued");
  auto why = api_->get("/api/v1/jobs/" + arm + "/why");
  EXPECT_TRUE(why["waiting"].get<bool>());
  EXPECT_EQ(why["reasons"][0]["code"], "no_matching_runner");
  EXPECT_NE(why["summary"].get<std::string>().find("lacks labels [arm64]"), std::string::npos)
      << why.dump();
  auto cli =
      run_corral({"why", arm, "--server", server_->url(), "--token", server_->admin_token()});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("no runner can take a job with labels [arm64, linux]"), std::string::npos)
      << cli.out;
  // The queue lists it with the same reason.
  auto queue = api_->get("/api/v1/queue");
  ASSERT_EQ(queue["waiting"].size(), 1u);
  EXPECT_EQ(queue["waiting"][0]["id"], arm);
  EXPECT_EQ(queue["waiting"][0]["reason_code"], "no_matching_runner");
  auto running = api_->get("/api/v1/jobs/" + ci + "/why");
  EXPECT_FALSE(running["waiting"].get<bool>());
  EXPECT_NE(running["summary"].get<std::string>().find("ended succeeded"), std::string::npos);
}

TEST_F(Scheduling, WhyNamesTheMatchingRunnersThatWentOffline) {
  // The runner's long-poll waits 30 s; the claim it left parked ends when the server sees
  // the connection close, not then (a parked claim of a dead runner must not take the job).
  auto& solo = start_runner("solo-box", {{"RUNNER_LABELS", "solo"}});
  solo.process().kill9();
  ASSERT_TRUE(wait_until(
      [&] { return api_->get("/api/v1/runners/" + solo.id())["status"] == "offline"; }, 10s));
  Api health(server_->url(), "");
  ASSERT_TRUE(
      wait_until([&] { return health.get("/healthz")["parked_claims"].get<int>() == 0; }, 10s));
  std::string id = submit({{"labels", {"solo"}}});
  auto why = api_->get("/api/v1/jobs/" + id + "/why");
  EXPECT_EQ(why["reasons"][0]["code"], "runners_offline") << why.dump();
  EXPECT_NE(why["summary"].get<std::string>().find("solo-box (last seen"), std::string::npos)
      << why.dump();
  EXPECT_EQ(why["matching_runners"]["offline"], 1);
  EXPECT_EQ(why["position"], 0);
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

TEST(OwnerOnly, ARunnerOfAUsersOwnTokenTakesOnlyThatUsersJobs) {
  ServerProcess server;
  std::string alice = create_token(server, "user", "default", "alice");
  std::string bob = create_token(server, "user", "default", "bob");
  Api alice_api(server.url(), alice), bob_api(server.url(), bob);
  // Alice makes her own registration token; a user may make runner tokens only.
  auto reg = alice_api.post("/api/v1/tokens", {{"kind", "runner"}, {"name", "alice-laptop"}}, 201);
  alice_api.post("/api/v1/tokens", {{"kind", "admin"}, {"name", "nope"}}, 403);
  auto laptop = TestRunner::register_with(server, reg["token"],
                                          {{"name", "alice-laptop"}, {"owner_only", true}});
  auto listed = alice_api.get("/api/v1/runners/" + laptop.id);
  EXPECT_TRUE(listed["owner_only"].get<bool>());

  std::string bobs = bob_api.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  std::string alices = alice_api.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  auto claimed = laptop.claim();
  ASSERT_EQ(claimed["jobs"].size(), 1u);
  EXPECT_EQ(claimed["jobs"][0]["job_id"], alices);  // Bob's older job is not hers to run
  auto why = bob_api.get("/api/v1/jobs/" + bobs + "/why");
  EXPECT_EQ(why["reasons"][0]["code"], "no_matching_runner");
  EXPECT_NE(why["summary"].get<std::string>().find("takes only its owner's jobs"),
            std::string::npos)
      << why.dump();
}

// Issue 17: a job queued behind thousands of one submitter's jobs that a runner cannot take
// reaches that runner (a claim once read 2,048 of them and gave up: the runner got nothing),
// and the queue page counts them all without reading them.
TEST(DeepQueue, AJobBehindThousandsOfJobsTheRunnerCannotTakeIsClaimed) {
  ServerProcess server;
  std::string user_token = create_token(server, "user");
  Api user(server.url(), user_token);
  constexpr int kBlocked = 2100, kSubmitters = 4;
  {
    // Side by side: concurrent submits share SQLite's commits (under the sanitizers too).
    std::vector<std::thread> submitters;
    for (int t = 0; t < kSubmitters; ++t) {
      submitters.emplace_back([&] {
        Api mine(server.url(), user_token);
        for (int i = 0; i < kBlocked / kSubmitters; ++i)
          mine.post("/api/v1/jobs", {{"command", {"true"}}, {"labels", {"gpu"}}}, 201);
      });
    }
    for (auto& t : submitters) t.join();
  }
  std::string plain = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  auto runner =
      TestRunner::register_with(server, create_token(server, "runner"), {{"name", "plain-box"}});
  auto claimed = runner.claim(5'000);
  ASSERT_EQ(claimed["jobs"].size(), 1u) << claimed.dump();
  EXPECT_EQ(claimed["jobs"][0]["job_id"], plain);
  auto queue = user.get("/api/v1/queue");
  EXPECT_EQ(queue["by_state"]["queued"], kBlocked);
  EXPECT_EQ(queue["by_state"]["leased"], 1);
  ASSERT_EQ(queue["by_labels"].size(), 1u) << queue.dump();
  EXPECT_EQ(queue["by_labels"][0]["queued"], kBlocked);
  EXPECT_EQ(queue["waiting"].size(), 50u);
  EXPECT_EQ(queue["waiting"][0]["reason_code"], "no_matching_runner");
  // The last of them (the newest job but the claimed one) waits behind all the others.
  auto last = user.get("/api/v1/jobs?limit=2")["jobs"][1]["id"].get<std::string>();
  EXPECT_EQ(user.get("/api/v1/jobs/" + last + "/why")["position"], kBlocked - 1);
}

TEST(OwnerOnly, TheRunnerFlagRegistersAnOwnerOnlyRunner) {
  ServerProcess server;
  std::string user = create_token(server, "user");
  Api api(server.url(), user);
  auto reg = api.post("/api/v1/tokens", {{"kind", "runner"}, {"name", "mine"}}, 201);
  auto dir = make_temp_dir("corral-owner-only");
  Process runner({corral_binary(), "runner", "--server-url", server.url(), "--token", reg["token"],
                  "--name", "mine", "--executor", "shell", "--docker-workspace-base",
                  (dir / "ws").string(), "--owner-only"},
                 {}, dir / "runner.log");
  ASSERT_TRUE(wait_until(
      [&] {
        auto runners = api.get("/api/v1/runners")["runners"];
        return !runners.empty() && runners[0]["owner_only"].get<bool>();
      },
      std::chrono::seconds(20)))
      << runner.output();
  runner.signal(SIGTERM);
  runner.wait(std::chrono::seconds(10));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace corral::testing

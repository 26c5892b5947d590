// `corral runner` with the Docker executor against the real Podman service, the real
// server binary and real git repositories.
#include <signal.h>

#include <fstream>

#include "common/crypto.h"
#include "harness.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty()) {
      GTEST_SKIP()
          << "DOCKER_HOST is not set: run through scripts/test.sh, which starts Podman's service";
    }
    server_ = std::make_unique<ServerProcess>();
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  void TearDown() override {
    runners_.clear();
    server_.reset();
  }

  RunnerProcess& start_runner(const std::string& name,
                              std::map<std::string, std::string> env = {}) {
    runners_.push_back(std::make_unique<RunnerProcess>(*server_, name, std::move(env)));
    return *runners_.back();
  }
  std::string submit(json spec) { return api_->post("/api/v1/jobs", spec, 201)["id"]; }
  std::string log_of(const std::string& id) {
    return api_->request(http::verb::get, "/api/v1/jobs/" + id + "/logs").body;
  }
  // Nothing of the runner's is left: no container with its label, an empty workspace base
  // and spool. The runner reports a result before it cleans up, so wait for it.
  void expect_clean(RunnerProcess& runner, fs::path base = {}) {
    if (base.empty()) base = runner.workspace_base();
    EXPECT_TRUE(
        wait_until([&] { return count_containers("corral.runner=" + runner.id()) == 0; }, 10s))
        << "containers left behind";
    auto workspace_empty = [&] {
      std::error_code ec;
      if (!fs::exists(base, ec)) return true;
      for (const auto& entry : fs::directory_iterator(base, ec)) {
        // The repository cache's mirrors outlive the attempts (runner/repo_cache.h).
        if (entry.path().filename() == ".repos") continue;
        if (entry.path().filename() != ".spool") return false;
        bool empty = fs::is_empty(entry.path(), ec);
        if (!ec && !empty) return false;
      }
      return true;
    };
    EXPECT_TRUE(wait_until(workspace_empty, 10s)) << "workspace or spool left behind in " << base
                                                  << ": " <<
        [&] {
          std::string names;
          std::error_code ec;
          for (const auto& e : fs::recursive_directory_iterator(base, ec))
            names += e.path().string() + " ";
          return names;
        }() << "\n" << runner.log();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

TEST_F(RunnerTest, OutputArrivesInOrderAndCompleteAndExitCodesAreReported) {
  auto& runner = start_runner("order");
  std::string ok =
      submit({{"script", "i=1; while [ $i -le 3000 ]; do echo \"line $i\"; i=$((i+1)); done"}});
  std::string bad = submit({{"script", "echo before; exit 3"}});
  auto done = wait_for_job(*api_, ok, {"succeeded", "failed"});
  EXPECT_EQ(done["state"], "succeeded") << runner.log();
  EXPECT_EQ(done["exit_code"], 0);
  std::string expected;
  for (int i = 1; i <= 3000; ++i) expected += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(log_of(ok), expected);
  auto failed = wait_for_job(*api_, bad, {"succeeded", "failed"});
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["exit_code"], 3);
  EXPECT_NE(log_of(bad).find("before\n"), std::string::npos);
  auto r = api_->get("/api/v1/runners/" + runner.id());
  EXPECT_FALSE(r["capabilities"]["engine"]["version"].get<std::string>().empty());
  EXPECT_FALSE(r["capabilities"]["git"].get<std::string>().empty());
  EXPECT_GT(r["system"]["cpus"].get<int>(), 0);
  expect_clean(runner);
}

TEST_F(RunnerTest, MemoryLimitExceededIsOomKilled) {
  auto& runner = start_runner("oom");
  std::string id = submit({{"script", "echo start; x=a; while true; do x=$x$x; done"},
                           {"resources", {{"memory", "16m"}}}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["reason"], "oom_killed") << log_of(id);
  EXPECT_NE(log_of(id).find("out of memory"), std::string::npos);
  expect_clean(runner);
}

// The harness's runners give jobs no network (harness.cpp); a runner left at the product's
// default gives its jobs the engine's default network: an interface beside loopback.
TEST_F(RunnerTest, TheEnginesDefaultNetworkIsWhatAJobGetsByDefault) {
  auto& runner = start_runner("default-net", {{"DOCKER_NETWORK_MODE", ""}});
  std::string id =
      submit({{"script", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/if:/'"}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  EXPECT_EQ(job["state"], "succeeded") << log_of(id);
  std::string log = log_of(id);
  EXPECT_NE(log.find("if:lo\n"), std::string::npos) << log;
  size_t interfaces = 0;
  for (size_t at = log.find("if:"); at != std::string::npos; at = log.find("if:", at + 1)) {
    ++interfaces;
  }
  EXPECT_GE(interfaces, 2u) << "only loopback: the job got no network\n" << log;
  expect_clean(runner);
}

TEST_F(RunnerTest, NetworkNoneCannotReachTheServer) {
  // The runner's default is the host network, so the control job does reach the server.
  auto& runner = start_runner("net", {{"DOCKER_NETWORK_MODE", "host"}});
  // busybox nc, not wget: the static busybox's wget crashes resolving addresses.
  std::string host_port = server_->url().substr(7);
  std::string probe = "printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " +
                      host_port.substr(0, host_port.find(':')) + " " +
                      host_port.substr(host_port.find(':') + 1);
  std::string control = submit({{"script", probe}});
  std::string isolated = submit({{"script", probe}, {"network", "none"}});
  auto c = wait_for_job(*api_, control, {"succeeded", "failed"});
  EXPECT_EQ(c["state"], "succeeded") << log_of(control);
  EXPECT_NE(log_of(control).find("\"ok\""), std::string::npos);
  auto i = wait_for_job(*api_, isolated, {"succeeded", "failed"});
  EXPECT_EQ(i["state"], "failed");
  EXPECT_EQ(log_of(isolated).find("\"ok\""), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, TimeoutStopsTheContainer) {
  auto& runner = start_runner("timeout");
  auto t0 = std::chrono::steady_clock::now();
  // 3 s, not 1: on a loaded machine the container may not have printed yet after 1 s
  // (seen once in CI: timed out with an empty log).
  std::string id = submit({{"script", "echo sleeping; sleep 60"}, {"timeout_s", 3}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 30s);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["reason"], "timed_out");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  std::string log = log_of(id);
  EXPECT_NE(log.find("sleeping\n"), std::string::npos);
  EXPECT_NE(log.find("timed out"), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, TransientFailureIsRetriedAfterItsBackoffAndOthersFailAtOnce) {
  auto& runner = start_runner("retry");
  // Fails as if an API were overloaded on attempt 1, succeeds on attempt 2.
  std::string flaky = submit(
      {{"script",
        "if [ \"$CORRAL_ATTEMPT\" = 1 ]; then echo 'HTTP 529 Overloaded'; exit 1; fi; echo fine"},
       {"retry", {{"backoff_s", {1}}}}});
  std::string broken =
      submit({{"script", "echo 'assertion failed'; exit 1"}, {"retry", {{"backoff_s", {0}}}}});
  auto done = wait_for_job(*api_, flaky, {"succeeded", "failed"}, 60s);
  EXPECT_EQ(done["state"], "succeeded");
  ASSERT_EQ(done["attempts"].size(), 2u);
  EXPECT_EQ(done["attempts"][0]["state"], "failed");
  EXPECT_EQ(done["attempts"][0]["reason"], "transient");
  // The second attempt waited out the backoff after the first one finished.
  auto ms = [](const json& t) {
    std::tm tm{};
    std::string text = t.get<std::string>();
    strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    return static_cast<int64_t>(timegm(&tm)) * 1000 + std::stoi(text.substr(20, 3));
  };
  EXPECT_GE(ms(done["attempts"][1]["claimed_at"]) - ms(done["attempts"][0]["finished_at"]), 1000);
  EXPECT_NE(log_of(flaky).find("fine"), std::string::npos);

  auto failed = wait_for_job(*api_, broken, {"succeeded", "failed"}, 60s);
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["attempts"].size(), 1u);
  EXPECT_EQ(failed["exit_code"], 1);
  expect_clean(runner);
}

TEST_F(RunnerTest, CancelWhileRunningKeepsTheLog) {
  auto& runner = start_runner("cancel", {{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  std::string id = submit({{"script", "echo started; sleep 60"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("started") != std::string::npos; }, 30s));
  api_->post("/api/v1/jobs/" + id + "/cancel", json::object());
  auto job = wait_for_job(*api_, id, {"succeeded", "failed", "canceled"}, 30s);
  EXPECT_EQ(job["state"], "canceled");
  EXPECT_NE(log_of(id).find("started\n"), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, TwoSlotsRunTwoJobsAtOnceAndTheThirdWaits) {
  auto& runner = start_runner(
      "slots", {{"RUNNER_MAX_CONCURRENT_JOBS", "2"}, {"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  // Each job runs until canceled, so the overlap is certain, not a matter of timing.
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit({{"script", "echo running; sleep 120"}}));
  bool two_running_one_queued = wait_until(
      [&] {
        int running = 0, queued = 0;
        for (const auto& id : ids) {
          auto s = api_->get("/api/v1/jobs/" + id)["state"];
          running += s == "running";
          queued += s == "queued";
        }
        return running == 2 && queued == 1;
      },
      30s);
  EXPECT_TRUE(two_running_one_queued);
  EXPECT_EQ(api_->get("/api/v1/runners/" + runner.id())["running_jobs"], 2);
  for (const auto& id : ids) api_->post("/api/v1/jobs/" + id + "/cancel", json::object());
  for (const auto& id : ids) wait_for_job(*api_, id, {"canceled", "failed", "succeeded"}, 30s);
  expect_clean(runner);
}

TEST_F(RunnerTest, ClonesTheRepositoryAtTheGivenShaWithDepthOne) {
  // Without the repository cache (whose workspaces have the whole history).
  auto& runner = start_runner("git", {{"RUNNER_REPO_CACHE", "off"}});
  auto repo = make_temp_dir("corral-repo");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
    auto out = run_command(args, {}, repo);
    ASSERT_TRUE(out.ok());
    ASSERT_EQ(out->exit_code, 0) << out->output;
  };
  git({"init", "-q", "-b", "main"});
  std::ofstream(repo / "version.txt") << "first\n";
  git({"add", "."});
  git({"commit", "-q", "-m", "first"});
  auto sha = run_command({"git", "rev-parse", "HEAD"}, {}, repo)->output;
  sha.erase(sha.find_last_not_of("\n") + 1);
  std::ofstream(repo / "version.txt") << "second\n";
  git({"commit", "-q", "-am", "second"});

  std::string id =
      submit({{"script", "cat version.txt; ls -a; cat .git/shallow && echo shallow"},
              {"repo",
               {{"url", "file://" + repo.string()}, {"ref", "main"}, {"sha", sha}, {"depth", 1}}}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("first\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("second\n"), std::string::npos) << log;
  EXPECT_NE(log.find("shallow"), std::string::npos) << log;

  std::string bad = submit({{"script", "true"}, {"repo", {{"url", "file:///nonexistent/repo"}}}});
  auto failed = wait_for_job(*api_, bad, {"succeeded", "failed"});
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["reason"], "clone");
  fs::remove_all(repo);
  expect_clean(runner);
}

TEST_F(RunnerTest, JobsOnOneRepositoryShareTheRunnersMirrorAndFetchOnlyWhatIsNew) {
  auto& runner = start_runner("cache");
  auto repo = make_temp_dir("corral-repo");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
    auto out = run_command(args, {}, repo);
    EXPECT_TRUE(out.ok());
    EXPECT_EQ(out.ok() ? out->exit_code : -1, 0) << (out.ok() ? out->output : "");
    std::string text = out.ok() ? out->output : "";
    return text.substr(0, text.find_last_not_of('\n') + 1);
  };
  git({"init", "-q", "-b", "main"});
  std::string filler;  // 2 MB of hex (~1 MB packed): history a second fetch must not repeat
  for (int i = 0; filler.size() < 2 * 1024 * 1024; ++i) filler += sha256_hex(std::to_string(i));
  std::ofstream(repo / "filler.txt") << filler;
  std::ofstream(repo / "version.txt") << "first\n";
  git({"add", "."});
  git({"commit", "-q", "-m", "first"});
  std::string first = git({"rev-parse", "HEAD"});
  const std::string url = "file://" + repo.string();
  const std::string script =
      "cat version.txt; test -d .git && echo own-git-dir; "
      "test -e .git/objects/info/alternates || echo no-alternates";
  auto run_job = [&](json repo_spec) {
    std::string id = submit({{"script", script}, {"repo", repo_spec}});
    auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
    std::string log = log_of(id);
    EXPECT_EQ(job["state"], "succeeded") << log << runner.log();
    EXPECT_NE(log.find("own-git-dir\nno-alternates\n"), std::string::npos) << log;
    return log;
  };

  std::string cold = run_job({{"url", url}, {"ref", "main"}, {"sha", first}});
  EXPECT_NE(cold.find("first\n"), std::string::npos) << cold;
  EXPECT_NE(cold.find("corral: repo cache: new mirror"), std::string::npos) << cold;

  std::ofstream(repo / "version.txt") << "second\n";
  git({"commit", "-q", "-am", "second"});
  std::string warm = run_job({{"url", url}, {"ref", "main"}});
  EXPECT_NE(warm.find("second\n"), std::string::npos) << warm;
  EXPECT_NE(warm.find("corral: repo cache: fetched "), std::string::npos) << warm;
  EXPECT_EQ(warm.find("new mirror"), std::string::npos) << warm;

  std::string again = run_job({{"url", url}, {"sha", first}});
  EXPECT_NE(again.find("first\n"), std::string::npos) << again;
  EXPECT_NE(again.find("nothing fetched"), std::string::npos) << again;

  // One mirror, holding the first fetch's pack (the history) and one small pack for the
  // second commit: the second job did not fetch everything again.
  auto cache_dir = runner.workspace_base() / ".repos";
  std::vector<fs::path> mirrors;
  for (const auto& entry : fs::directory_iterator(cache_dir)) {
    if (entry.path().filename() != "locks") mirrors.push_back(entry.path());
  }
  ASSERT_EQ(mirrors.size(), 1u);
  std::vector<uintmax_t> packs;
  for (const auto& entry : fs::directory_iterator(mirrors[0] / "objects" / "pack")) {
    if (entry.path().extension() == ".pack") packs.push_back(entry.file_size());
  }
  std::sort(packs.begin(), packs.end());
  ASSERT_EQ(packs.size(), 2u);
  EXPECT_LT(packs[0], 16u * 1024);
  EXPECT_GT(packs[1], 512u * 1024);
  EXPECT_NE(runner.log().find("repo cache: fetched"), std::string::npos) << runner.log();
  fs::remove_all(repo);
  expect_clean(runner);
}

TEST_F(RunnerTest, MissingImageFailsWithImagePullAndTheEnginesMessage) {
  auto& runner = start_runner("image");
  // image_pull is retried by default; with no backoff and two attempts it fails twice, fast.
  std::string id = submit({{"script", "true"},
                           {"image", "localhost/corral-does-not-exist:1"},
                           {"retry", {{"max_attempts", 2}, {"backoff_s", {0}}}}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["reason"], "image_pull");
  ASSERT_EQ(job["attempts"].size(), 2u);
  EXPECT_EQ(job["attempts"][0]["reason"], "image_pull");
  std::string log = log_of(id);
  EXPECT_NE(log.find("corral-does-not-exist"), std::string::npos) << log;
  expect_clean(runner);
}

TEST_F(RunnerTest, SecretsReachTheContainerAndNeverTheLog) {
  auto& runner = start_runner("secrets", {{"RUNNER_GIT_TOKEN", "gh-runner-t0ken-xyz"}});
  const std::string pem =
      "-----BEGIN KEY-----\nline-one-abcdef\nline-two-ghijkl\n-----END KEY-----";
  // The value split over two writes (and so two log chunks), a value of several lines,
  // one of its lines printed alone, and the runner's own git token.
  std::string id = submit({{"script",
                            "echo \"env-ok=$([ \"$API_KEY\" = k3y-v4lue-123 ] && echo yes)\"\n"
                            "echo \"plain: $API_KEY\"\n"
                            "printf 'split: k3y-v4'; sleep 0.3; printf 'lue-123\\n'\n"
                            "printf 'pem: %s\\n' \"$PEM\"\n"
                            "echo \"alone: $(printf '%s\\n' \"$PEM\" | sed -n 3p)\"\n"
                            "echo runner-token: gh-runner-t0ken-xyz\n"},
                           {"secrets", {{"API_KEY", "k3y-v4lue-123"}, {"PEM", pem}}}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("env-ok=yes"), std::string::npos) << log;
  EXPECT_NE(log.find("plain: ***\n"), std::string::npos) << log;
  EXPECT_NE(log.find("split: ***\n"), std::string::npos) << log;
  EXPECT_NE(log.find("pem: ***\n"), std::string::npos) << log;
  EXPECT_NE(log.find("alone: ***\n"), std::string::npos) << log;
  EXPECT_NE(log.find("runner-token: ***\n"), std::string::npos) << log;
  for (const char* leak : {"k3y-v4lue", "line-one-abcdef", "line-two-ghijkl", "gh-runner-t0ken"}) {
    EXPECT_EQ(log.find(leak), std::string::npos) << leak << " in\n" << log;
  }
  EXPECT_EQ(api_->get("/api/v1/jobs/" + id)["spec"]["secrets"], json({"API_KEY", "PEM"}));

  // Credentials in a repository URL: the clone note shows the URL without them, and the
  // password is masked wherever git prints it.
  std::string clone = submit({{"script", "true"},
                              {"repo", {{"url", "http://ci-bot:hunter2pass@127.0.0.1:1/r.git"}}},
                              {"max_attempts", 1}});
  auto failed = wait_for_job(*api_, clone, {"succeeded", "failed"});
  std::string clone_log = log_of(clone);
  EXPECT_EQ(failed["reason"], "clone") << clone_log;
  EXPECT_NE(clone_log.find("cloning http://***@127.0.0.1:1/r.git"), std::string::npos) << clone_log;
  EXPECT_EQ(clone_log.find("hunter2pass"), std::string::npos) << clone_log;
  EXPECT_EQ(failed.dump().find("hunter2pass"), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, ContainersRunWithoutCapabilitiesAndWithLabels) {
  auto& runner = start_runner("caps");
  std::string id = submit({{"script", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; pwd"}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("CapEff:\t0000000000000000"), std::string::npos) << log;
  EXPECT_NE(log.find("NoNewPrivs:\t1"), std::string::npos) << log;
  EXPECT_NE(log.find("/workspace"), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, SigtermLetsTheRunningJobFinishThenGoesOffline) {
  auto& runner = start_runner("drain");
  std::string id = submit({{"script", "echo begin; sleep 2; echo end"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("begin") != std::string::npos; }, 30s));
  runner.process().signal(SIGTERM);
  EXPECT_EQ(runner.process().wait(60s), 0) << runner.log();
  auto job = api_->get("/api/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_NE(log_of(id).find("end\n"), std::string::npos);
  EXPECT_EQ(api_->get("/api/v1/runners/" + runner.id())["status"], "offline");
  expect_clean(runner);
}

TEST_F(RunnerTest, DrainTimeoutStopsTheJobAndTheServerRequeuesIt) {
  auto& runner = start_runner("drain-timeout", {{"RUNNER_DRAIN_TIMEOUT_S", "1"}});
  std::string id = submit({{"script", "echo begin; sleep 60"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("begin") != std::string::npos; }, 30s));
  runner.process().signal(SIGTERM);
  EXPECT_EQ(runner.process().wait(60s), 0) << runner.log();
  auto job = api_->get("/api/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "queued");  // back in the queue for another runner, attempt 2 next
  EXPECT_EQ(job["attempts"][0]["state"], "lost");
  expect_clean(runner);
}

TEST_F(RunnerTest, ShellExecutorRunsOnTheHost) {
  auto& runner = start_runner("shell", {{"RUNNER_EXECUTOR", "shell"}});
  std::string id = submit({{"script", "echo \"in $PWD\"; exit 4"}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  EXPECT_EQ(job["exit_code"], 4);
  EXPECT_NE(log_of(id).find("in " + runner.workspace_base().string()), std::string::npos)
      << log_of(id);
  EXPECT_NE(runner.log().find("isolates NOTHING"), std::string::npos);
  expect_clean(runner);
}

TEST_F(RunnerTest, ARestartedRunnerRemovesWhatItsCrashLeftAndTheJobIsRequeuedAtOnce) {
  auto workspaces = make_temp_dir("corral-crash");
  std::map<std::string, std::string> env{{"DOCKER_WORKSPACE_BASE", workspaces.string()}};
  auto& first = start_runner("crashy", env);
  std::string id = submit({{"script", "echo started; sleep 120"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("started") != std::string::npos; }, 30s));
  first.process().kill9();
  ASSERT_EQ(count_containers("corral.runner=" + first.id()), 1);  // the crash left it running
  // The same runner (same name) comes back: it tells the server it runs nothing, so the
  // job is requeued now rather than when its lease runs out, and it removes the leftover.
  auto& second = start_runner("crashy", env);
  EXPECT_EQ(second.id(), first.id());
  auto job = wait_for_job(*api_, id, {"running"}, 30s);
  ASSERT_TRUE(wait_until(
      [&] {
        job = api_->get("/api/v1/jobs/" + id);
        return job["attempt"] == 2 && job["state"] == "running";
      },
      30s))
      << job.dump();
  EXPECT_EQ(job["attempts"][0]["state"], "lost");
  EXPECT_TRUE(wait_until(
      [&] {
        return count_containers({"corral.job=" + id, "corral.attempt=1"}) == 0;
      },
      10s))
      << "the crashed attempt's container is still there";
  EXPECT_TRUE(wait_until(
      [&] {
        return count_containers({"corral.job=" + id, "corral.attempt=2"}) == 1;
      },
      10s));
  api_->post("/api/v1/jobs/" + id + "/cancel", json::object());
  wait_for_job(*api_, id, {"canceled"}, 30s);
  expect_clean(second, workspaces);  // the crashed attempt's workspace is gone too
  std::error_code ec;
  fs::remove_all(workspaces, ec);
}

TEST_F(RunnerTest, ASecondSignalSkipsTheDrainWait) {
  auto& runner = start_runner("impatient");  // drain timeout: the default 10 minutes
  std::string id = submit({{"script", "echo begin; sleep 120"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("begin") != std::string::npos; }, 30s));
  runner.process().signal(SIGTERM);
  ASSERT_TRUE(
      wait_until([&] { return runner.log().find("shutting down") != std::string::npos; }, 10s));
  runner.process().signal(SIGTERM);
  EXPECT_EQ(runner.process().wait(30s), 0) << runner.log();
  auto job = api_->get("/api/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "queued");  // handed back, not lost for good
  EXPECT_EQ(api_->get("/api/v1/runners/" + runner.id())["status"], "offline");
  expect_clean(runner);
}

TEST_F(RunnerTest, AStaleAttemptsContainerIsStoppedAtOnce) {
  // The server's leases last 6 s but this runner beats only every 30 s: its attempt goes
  // stale while the job runs, and the server answers 409 to its next log upload. (6 s, not
  // less: on a loaded machine the container's first line once came after a 3 s lease ended.)
  server_ = std::make_unique<ServerProcess>(
      std::map<std::string, std::string>{{"RUNNER_HEARTBEAT_INTERVAL_MS", "100"},
                                         {"RUNNER_HEARTBEAT_TIMEOUT_MS", "6000"},
                                         {"CORRAL_SWEEP_INTERVAL_MS", "50"}});
  api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  auto& runner = start_runner("slow-beat", {{"RUNNER_HEARTBEAT_INTERVAL_MS", "30000"}});
  std::string id =
      submit({{"script", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"},
              {"max_attempts", 1}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("tick") != std::string::npos; }, 30s));
  auto job = wait_for_job(*api_, id, {"failed"}, 15s);
  EXPECT_EQ(job["reason"], "runner_lost");
  EXPECT_TRUE(wait_until([&] { return count_containers({"corral.job=" + id}) == 0; }, 10s))
      << "the stale attempt's container still runs\n"
      << runner.log();
  EXPECT_NE(runner.log().find("stale"), std::string::npos) << runner.log();
  expect_clean(runner);
}

TEST_F(RunnerTest, ADrainedRunnerFinishesItsJobAndTakesNoNewOnes) {
  auto& runner = start_runner("drained", {{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  std::string running = submit({{"script", "echo begin; sleep 1; echo end"}});
  ASSERT_TRUE(wait_until([&] { return log_of(running).find("begin") != std::string::npos; }, 30s));
  auto drained = run_corral({"drain", runner.id()}, {{"CORRAL_SERVER", server_->url()},
                                                     {"CORRAL_TOKEN", server_->admin_token()}});
  ASSERT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_TRUE(wait_until(
      [&] { return runner.log().find("asked this runner to drain") != std::string::npos; }, 10s))
      << runner.log();
  EXPECT_EQ(wait_for_job(*api_, running, {"succeeded", "failed"})["state"], "succeeded");
  std::string waiting = submit({{"script", "true"}});
  EXPECT_FALSE(wait_until([&] { return api_->get("/api/v1/jobs/" + waiting)["state"] != "queued"; },
                          1500ms));
  EXPECT_EQ(api_->get("/api/v1/runners/" + runner.id())["status"], "draining");
  api_->post("/api/v1/jobs/" + waiting + "/cancel", json::object());
  expect_clean(runner);
}

// The job writes .corral/result.json and the runner reads it, so the file is hostile input:
// each of these is refused with a note in the job's log, the job finishes without a result,
// and the runner goes on to report the next job's good result.
class RunnerResultFileTest : public RunnerTest {
 protected:
  void expect_refused_then_runner_goes_on(const std::string& script, const std::string& note) {
    auto& runner = start_runner("results");
    std::string id = submit({{"script", "mkdir -p .corral && " + script}});
    auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
    std::string log = log_of(id);
    EXPECT_EQ(job["state"], "succeeded") << log << runner.log();
    EXPECT_TRUE(job["result"].is_null()) << job["result"].dump().substr(0, 200);
    EXPECT_NE(log.find("corral: ignored"), std::string::npos) << log;
    EXPECT_NE(log.find(note), std::string::npos) << log;
    ASSERT_TRUE(runner.process().running()) << runner.log();
    std::string good =
        submit({{"script", "mkdir -p .corral && echo '{\"a\": [[1]]}' > .corral/result.json"}});
    EXPECT_EQ(wait_for_job(*api_, good, {"succeeded", "failed"})["result"],
              json::parse(R"({"a": [[1]]})"))
        << log_of(good) << runner.log();
    expect_clean(runner);
  }
};

// 120,000 levels in 240 KB, under the 256 KiB cap: the runner crashed copying it.
TEST_F(RunnerResultFileTest, NestedDeeperThan64LevelsIsRefused) {
  expect_refused_then_runner_goes_on(
      "{ yes '[' | head -n 120000 | tr -d '\\n'; yes ']' | head -n 120000 | tr -d '\\n'; }"
      " > .corral/result.json",
      ".corral/result.json is JSON nested deeper than 64 levels");
}

// A link resolves on the host, where the runner reads it: it reported a host file.
TEST_F(RunnerResultFileTest, ALinkToAHostFileIsNotFollowed) {
  auto host_dir = make_temp_dir("corral-host-file");
  std::ofstream(host_dir / "secret.json") << R"({"secret": "of the host"})";
  expect_refused_then_runner_goes_on(
      "ln -s " + (host_dir / "secret.json").string() + " .corral/result.json",
      "links are not followed");
}

// Opening a FIFO with no writer blocked the runner.
TEST_F(RunnerResultFileTest, AFifoIsNotOpenedForReading) {
  expect_refused_then_runner_goes_on("mkfifo .corral/result.json", "not a regular file");
}

TEST(RunnerRegistration, RetriesWithBackoffAndSaysWhy) {
  ServerProcess server;
  auto dir = make_temp_dir("corral-badtoken");
  Process runner({corral_binary(), "runner", "--executor", "shell"},
                 {{"RUNNER_SERVER_URL", server.url()},
                  {"RUNNER_TOKEN", "crl_wrong"},
                  {"RUNNER_NAME", "hopeful"},
                  {"DOCKER_WORKSPACE_BASE", (dir / "ws").string()}},
                 dir / "runner.log");
  auto count = [&](const std::string& needle) {
    std::string out = runner.output();
    int n = 0;
    for (size_t pos = 0; (pos = out.find(needle, pos)) != std::string::npos; ++pos) ++n;
    return n;
  };
  EXPECT_TRUE(wait_until([&] { return count("cannot register") >= 2; }, 20s)) << runner.output();
  EXPECT_NE(runner.output().find("unknown token"), std::string::npos) << runner.output();
  EXPECT_TRUE(runner.running());
  runner.signal(SIGTERM);
  EXPECT_EQ(runner.wait(10s), 0) << runner.output();
  fs::remove_all(dir);
}

TEST(RunnerConfigErrors, MissingOrMalformedSettingsStopTheRunnerNamingThem) {
  auto missing = run_corral({"runner"},
                            {{"RUNNER_SERVER_URL", ""}, {"RUNNER_TOKEN", ""}, {"RUNNER_NAME", ""}});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("RUNNER_SERVER_URL"), std::string::npos) << missing.err;
  auto bad_memory = run_corral({"runner"}, {{"RUNNER_SERVER_URL", "http://127.0.0.1:1"},
                                            {"RUNNER_TOKEN", "x"},
                                            {"RUNNER_NAME", "n"},
                                            {"DOCKER_EXECUTOR_IMAGE", "img"},
                                            {"DOCKER_MEMORY_LIMIT", "lots"}});
  EXPECT_EQ(bad_memory.exit_code, 2);
  EXPECT_NE(bad_memory.err.find("DOCKER_MEMORY_LIMIT"), std::string::npos) << bad_memory.err;
  auto no_image =
      run_corral({"runner", "--server-url", "http://127.0.0.1:1", "--token", "x", "--name", "n"},
                 {{"DOCKER_EXECUTOR_IMAGE", ""}});
  EXPECT_EQ(no_image.exit_code, 2);
  EXPECT_NE(no_image.err.find("DOCKER_EXECUTOR_IMAGE"), std::string::npos) << no_image.err;
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// `corral dev` runs a server and a runner and shows a first job's log.
void run_dev_and_expect_hello(const std::map<std::string, std::string>& env,
                              const std::string& expect_in_output, fs::path dir = {}) {
  bool own_dir = dir.empty();
  if (own_dir) dir = make_temp_dir("corral-dev");
  Process dev(
      {corral_binary(), "dev", "--listen", "127.0.0.1:0", "--data-dir", (dir / "data").string()},
      env, dir / ("dev-" + random_hex(4) + ".log"), dir);  // a fresh log for each start
  // The log line comes before the job's result: wait for both.
  bool shown = wait_until(
      [&] {
        std::string out = dev.output();
        return out.find("hello from corral") != std::string::npos &&
               out.find("(succeeded)") != std::string::npos;
      },
      60s, 50ms);
  EXPECT_TRUE(shown) << dev.output();
  EXPECT_NE(dev.output().find(expect_in_output), std::string::npos) << dev.output();
  EXPECT_NE(dev.output().find("(succeeded)"), std::string::npos) << dev.output();
  dev.signal(SIGTERM);
  EXPECT_EQ(dev.wait(60s), 0) << dev.output();
  if (own_dir && !::testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(Dev, ARestartComesBackAsTheSameRunner) {
  auto empty = make_temp_dir("corral-noengine");
  auto dir = make_temp_dir("corral-dev");
  std::map<std::string, std::string> env{
      {"DOCKER_HOST", "unix://" + (empty / "none.sock").string()},
      {"XDG_RUNTIME_DIR", empty.string()},
      {"RUNNER_NAME", "dev-box"}};
  run_dev_and_expect_hello(env, "no container engine found", dir);
  // Its registration token stays in the data directory (owner-only), so the runner's name
  // is still its own after the restart.
  auto perms = fs::status(dir / "data" / "runner.token").permissions() & fs::perms::all;
  EXPECT_EQ(perms, fs::perms::owner_read | fs::perms::owner_write);
  run_dev_and_expect_hello(env, "no container engine found", dir);
  fs::remove_all(empty);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(Dev, RunsAFirstJobInAContainer) {
  if (docker_host().empty()) GTEST_SKIP() << "DOCKER_HOST is not set";
  run_dev_and_expect_hello({{"DOCKER_EXECUTOR_IMAGE", kTestImage}, {"DOCKER_PULL_POLICY", "never"}},
                           "running in /workspace");
}

TEST(Dev, FallsBackToTheShellExecutorWithAWarningWithoutAnEngine) {
  auto empty = make_temp_dir("corral-noengine");
  run_dev_and_expect_hello({{"DOCKER_HOST", "unix://" + (empty / "none.sock").string()},
                            {"XDG_RUNTIME_DIR", empty.string()}},
                           "no container engine found");
  fs::remove_all(empty);
}

}  // namespace
}  // namespace corral::testing

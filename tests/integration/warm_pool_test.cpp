// The runner's warm container pool (DOCKER_POOL_SIZE, runner/warm_pool.h) with the Docker
// executor against the real Podman service: containers ready before the first job, one
// attempt each, refilled, skipped by jobs with other limits, replaced after an engine
// restart, removed when the runner stops, and no job environment in the engine's inspect.
#include <signal.h>

#include <cstdlib>
#include <fstream>

#include "common/crypto.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

struct EngineContainer {
  std::string id;
  std::string state;
};

// Containers carrying every label in filters, through the engine at host.
std::vector<EngineContainer> list_containers(const std::string& host,
                                             const std::vector<std::string>& filters) {
  std::vector<EngineContainer> out;
  auto endpoint = Endpoint::parse(host);
  if (!endpoint.ok()) return out;
  SyncHttpClient engine(*endpoint);
  json query{{"label", filters}};
  auto res = engine.get("/v1.41/containers/json?all=1&filters=" + url_encode(query.dump()));
  if (!res.ok() || res->status != 200) return out;
  for (const auto& c : json::parse(res->body)) out.push_back({c["Id"], c["State"]});
  return out;
}

// GET /containers/{id}/json, as text ("" when the engine does not know it).
std::string inspect(const std::string& host, const std::string& id) {
  auto endpoint = Endpoint::parse(host);
  if (!endpoint.ok()) return "";
  SyncHttpClient engine(*endpoint);
  auto res = engine.get("/v1.41/containers/" + id + "/json");
  return res.ok() && res->status == 200 ? res->body : "";
}

// Makes `image`: the test image with ENTRYPOINT ["/bin/sh", "-c", "echo via-entrypoint;
// exec \"$@\"", "entry"], through the engine's commit of a container made from it.
bool make_entrypoint_image(const std::string& host, const std::string& image) {
  auto endpoint = Endpoint::parse(host);
  if (!endpoint.ok()) return false;
  SyncHttpClient engine(*endpoint);
  auto created = engine.post("/v1.41/containers/create",
                             json{{"Image", kTestImage}, {"Cmd", {"true"}}}.dump());
  if (!created.ok() || created->status != 201) return false;
  std::string id = json::parse(created->body)["Id"];
  auto colon = image.rfind(':');
  std::string change =
      R"(ENTRYPOINT ["/bin/sh", "-c", "echo via-entrypoint; exec \"$@\"", "entry"])";
  auto committed = engine.post(
      "/v1.41/commit?container=" + id + "&repo=" + url_encode(image.substr(0, colon)) +
          "&tag=" + url_encode(image.substr(colon + 1)) + "&changes=" + url_encode(change),
      "{}");
  (void)engine.del("/v1.41/containers/" + id + "?force=1");
  return committed.ok() && committed->status == 201;
}

class WarmPoolTest : public ::testing::Test {
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

  RunnerProcess& start_runner(const std::string& name, std::map<std::string, std::string> env) {
    env.emplace("RUNNER_HEARTBEAT_INTERVAL_MS", "200");
    runners_.push_back(std::make_unique<RunnerProcess>(*server_, name, std::move(env)));
    return *runners_.back();
  }
  std::string submit(json spec) { return api_->post("/api/v1/jobs", spec, 201)["id"]; }
  std::string log_of(const std::string& id) {
    return api_->request(http::verb::get, "/api/v1/jobs/" + id + "/logs").body;
  }
  // Ids of the runner's pool containers that are running.
  std::set<std::string> ready_pool(RunnerProcess& runner, const std::string& host = docker_host()) {
    std::set<std::string> ids;
    for (const auto& c :
         list_containers(host, {"corral.runner=" + runner.id(), "corral.pool=true"})) {
      if (c.state == "running") ids.insert(c.id);
    }
    return ids;
  }
  // Waits until the runner has n running pool containers and says so in its heartbeat.
  std::set<std::string> wait_ready(RunnerProcess& runner, size_t n,
                                   const std::string& host = docker_host()) {
    std::set<std::string> ids;
    bool ready = wait_until(
        [&] {
          ids = ready_pool(runner, host);
          if (ids.size() != n) return false;
          json usage = api_->get("/api/v1/runners/" + runner.id())["usage"];
          return usage.contains("pool") && usage["pool"]["size"] == static_cast<int>(n) &&
                 usage["pool"]["ready"] == static_cast<int>(n);
        },
        60s, 50ms);
    EXPECT_TRUE(ready) << "pool not ready: " << ids.size() << " of " << n << "\n"
                       << api_->get("/api/v1/runners/" + runner.id()).dump() << "\n"
                       << runner.log();
    return ids;
  }
  // The first line of the job's log that starts with "host=": the container's hostname,
  // which the engine makes from the first 12 characters of its id.
  static std::string hostname_in(const std::string& log) {
    auto at = log.find("host=");
    if (at == std::string::npos) return "";
    return log.substr(at + 5, log.find('\n', at) - at - 5);
  }
  static bool served_by(const std::set<std::string>& ids, const std::string& host) {
    if (host.size() != 12) return false;
    for (const auto& id : ids) {
      if (id.compare(0, 12, host) == 0) return true;
    }
    return false;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

TEST_F(WarmPoolTest, ReadyBeforeTheFirstJobOneAttemptEachThenRefilled) {
  auto& runner = start_runner("pool", {{"DOCKER_POOL_SIZE", "2"}});
  auto first = wait_ready(runner, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(api_->get("/api/v1/runners/" + runner.id())["capabilities"]["pool_size"], 2);

  std::set<std::string> hosts;
  for (int i = 0; i < 2; ++i) {
    std::string id = submit({{"script", "echo host=$(hostname); pwd; echo \"a=$A\""},
                             {"env", {{"A", "it's \"quoted\" $HOME"}}}});
    auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
    std::string log = log_of(id);
    EXPECT_EQ(job["state"], "succeeded") << log << runner.log();
    std::string host = hostname_in(log);
    EXPECT_TRUE(served_by(first, host))
        << "job " << i << " did not run in a pool container: " << log;
    EXPECT_TRUE(hosts.insert(host).second) << "a pool container served two attempts: " << host;
    EXPECT_NE(log.find("/workspace\n"), std::string::npos) << log;
    EXPECT_NE(log.find("a=it's \"quoted\" $HOME\n"), std::string::npos) << log;
  }
  // The used ones are gone; two new ones take their place.
  for (const auto& id : first) {
    EXPECT_TRUE(wait_until([&] { return inspect(docker_host(), id).empty(); }, 10s)) << id;
  }
  auto refilled = wait_until(
      [&] {
        auto now = ready_pool(runner);
        if (now.size() != 2) return false;
        for (const auto& id : now) {
          if (first.count(id)) return false;
        }
        return true;
      },
      60s, 50ms);
  EXPECT_TRUE(refilled) << runner.log();

  runner.process().signal(SIGTERM);
  EXPECT_EQ(runner.process().wait(60s), 0) << runner.log();
  EXPECT_EQ(count_containers("corral.runner=" + runner.id()), 0) << "pool containers left behind";
  std::error_code ec;
  EXPECT_FALSE(fs::exists(runner.workspace_base() / ".pool" / runner.id(), ec));
}

TEST_F(WarmPoolTest, TheJobsEnvironmentAndSecretsNeverShowInTheEnginesInspect) {
  auto& runner = start_runner("pool-secret", {{"DOCKER_POOL_SIZE", "1"}});
  auto ready = wait_ready(runner, 1);
  ASSERT_EQ(ready.size(), 1u);
  const std::string container = *ready.begin();
  std::string id = submit({{"script",
                            "echo host=$(hostname)\n"
                            "echo \"env-ok=$([ \"$TOKEN\" = s3cr3t-p00l-value ] && echo yes)\"\n"
                            "echo \"plain=$PLAIN_VAR\"\n"
                            "while [ ! -e /workspace/go ]; do sleep 0.05; done; echo went"},
                           {"env", {{"PLAIN_VAR", "visible-n0t-in-inspect"}}},
                           {"secrets", {{"TOKEN", "s3cr3t-p00l-value"}}}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("plain=") != std::string::npos; }, 30s))
      << log_of(id) << runner.log();
  ASSERT_TRUE(served_by(ready, hostname_in(log_of(id)))) << log_of(id);
  std::string inspected = inspect(docker_host(), container);
  ASSERT_FALSE(inspected.empty());
  for (const char* hidden :
       {"s3cr3t-p00l-value", "visible-n0t-in-inspect", "env-ok", "/workspace/go"}) {
    EXPECT_EQ(inspected.find(hidden), std::string::npos) << hidden << " in the inspect output";
  }
  // The job's files are the slot directory the container mounts at /workspace.
  json parsed = json::parse(inspected);
  std::string slot;
  for (const auto& m : parsed["Mounts"]) {
    if (m["Destination"] == "/workspace") slot = m["Source"];
  }
  ASSERT_FALSE(slot.empty()) << inspected;
  EXPECT_EQ(fs::path(slot).parent_path(), runner.workspace_base() / ".pool" / runner.id());
  std::ofstream(fs::path(slot) / "go") << "";
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("env-ok=yes\n"), std::string::npos) << log;
  EXPECT_NE(log.find("went\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cr3t-p00l-value"), std::string::npos) << log;
  std::error_code ec;
  EXPECT_TRUE(wait_until([&] { return !fs::exists(slot, ec); }, 10s)) << "slot directory left";
}

TEST_F(WarmPoolTest, AJobWithOtherLimitsStartsColdAndLeavesThePoolAlone) {
  auto& runner =
      start_runner("pool-cold", {{"DOCKER_POOL_SIZE", "1"}, {"DOCKER_MEMORY_LIMIT", "512m"}});
  auto ready = wait_ready(runner, 1);
  ASSERT_EQ(ready.size(), 1u);
  std::string id =
      submit({{"script", "echo host=$(hostname)"}, {"resources", {{"memory", "64m"}}}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  std::string host = hostname_in(log);
  EXPECT_EQ(host.size(), 12u) << log;
  EXPECT_FALSE(served_by(ready, host)) << "a job with other limits took the pool container";
  EXPECT_EQ(ready_pool(runner), ready) << "the pool container changed";
}

TEST_F(WarmPoolTest, AWarmContainerRunsTheImagesEntrypointAsAColdOneDoes) {
  const std::string image = "localhost/corral-test-entrypoint:latest";
  ASSERT_TRUE(make_entrypoint_image(docker_host(), image));
  auto& runner = start_runner("pool-entry", {{"DOCKER_POOL_SIZE", "1"},
                                             {"DOCKER_EXECUTOR_IMAGE", image},
                                             {"DOCKER_MEMORY_LIMIT", "512m"}});
  auto ready = wait_ready(runner, 1);
  std::string warm = submit({{"script", "echo host=$(hostname); echo job-ran"}});
  std::string cold = submit(
      {{"script", "echo host=$(hostname); echo job-ran"}, {"resources", {{"memory", "64m"}}}});
  for (const auto& id : {warm, cold}) {
    EXPECT_EQ(wait_for_job(*api_, id, {"succeeded", "failed"})["state"], "succeeded") << log_of(id);
  }
  EXPECT_TRUE(served_by(ready, hostname_in(log_of(warm)))) << log_of(warm);
  EXPECT_FALSE(served_by(ready, hostname_in(log_of(cold)))) << log_of(cold);
  for (const auto& id : {warm, cold}) {
    std::string log = log_of(id);
    auto entry = log.find("via-entrypoint\n");
    EXPECT_NE(entry, std::string::npos) << "the image's entrypoint did not run:\n" << log;
    EXPECT_NE(log.find("job-ran\n", entry == std::string::npos ? 0 : entry), std::string::npos)
        << log;
  }
}

TEST_F(WarmPoolTest, TimeoutCancelAndOomBehaveAsInAColdContainer) {
  auto& runner =
      start_runner("pool-stop", {{"DOCKER_POOL_SIZE", "1"}, {"DOCKER_MEMORY_LIMIT", "32m"}});
  wait_ready(runner, 1);
  std::string slow = submit({{"script", "echo sleeping; sleep 60"}, {"timeout_s", 3}});
  auto timed_out = wait_for_job(*api_, slow, {"succeeded", "failed"}, 30s);
  EXPECT_EQ(timed_out["reason"], "timed_out") << log_of(slow);
  EXPECT_NE(log_of(slow).find("sleeping\n"), std::string::npos);

  wait_ready(runner, 1);
  std::string canceled = submit({{"script", "echo started; sleep 60"}});
  ASSERT_TRUE(
      wait_until([&] { return log_of(canceled).find("started") != std::string::npos; }, 30s));
  api_->post("/api/v1/jobs/" + canceled + "/cancel", json::object());
  EXPECT_EQ(wait_for_job(*api_, canceled, {"succeeded", "failed", "canceled"}, 30s)["state"],
            "canceled");

  auto ready = wait_ready(runner, 1);
  std::string oom = submit({{"script", "echo host=$(hostname); x=a; while true; do x=$x$x; done"}});
  auto killed = wait_for_job(*api_, oom, {"succeeded", "failed"}, 60s);
  EXPECT_EQ(killed["reason"], "oom_killed") << log_of(oom);
  EXPECT_TRUE(served_by(ready, hostname_in(log_of(oom)))) << log_of(oom);
  std::string exit3 = submit({{"script", "exit 3"}});
  EXPECT_EQ(wait_for_job(*api_, exit3, {"succeeded", "failed"})["exit_code"], 3);
}

TEST_F(WarmPoolTest, ARestartedRunnerRemovesItsStalePoolContainers) {
  auto& first = start_runner("pool-crash", {{"DOCKER_POOL_SIZE", "2"}});
  auto stale = wait_ready(first, 2);
  first.process().kill9();
  auto& second = start_runner("pool-crash", {{"DOCKER_POOL_SIZE", "2"}});
  ASSERT_EQ(second.id(), first.id());
  // The stale ones are removed (not served), and two new ones made.
  for (const auto& id : stale) {
    EXPECT_TRUE(wait_until([&] { return inspect(docker_host(), id).empty(); }, 30s)) << id;
  }
  auto fresh = wait_ready(second, 2);
  for (const auto& id : stale) EXPECT_FALSE(fresh.count(id)) << id;
}

TEST_F(WarmPoolTest, ARestartAfterACrashRemovesTheSpoolOfTheAttemptThatRanWarm) {
  auto workspaces = make_temp_dir("corral-pool-crash");
  std::map<std::string, std::string> env{{"DOCKER_POOL_SIZE", "1"},
                                         {"DOCKER_WORKSPACE_BASE", workspaces.string()}};
  auto& first = start_runner("pool-spool", env);
  auto warm = wait_ready(first, 1);
  std::string id = submit({{"script", "echo host=$(hostname); echo started; sleep 120"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("started") != std::string::npos; }, 30s))
      << first.log();
  ASSERT_TRUE(served_by(warm, hostname_in(log_of(id)))) << log_of(id);
  fs::path spool = workspaces / ".spool" / (id + "-1.log");
  ASSERT_TRUE(fs::exists(spool));
  first.process().kill9();
  auto& second = start_runner("pool-spool", env);
  ASSERT_EQ(second.id(), first.id());
  EXPECT_TRUE(wait_until([&] { return !fs::exists(spool); }, 30s))
      << "the crashed warm attempt's spool file is still there\n"
      << second.log();
  api_->post("/api/v1/jobs/" + id + "/cancel", json::object());
  wait_for_job(*api_, id, {"canceled"}, 30s);
  runners_.clear();
  std::error_code ec;
  fs::remove_all(workspaces, ec);
}

TEST_F(WarmPoolTest, ThePoolSurvivesAnEngineRestart) {
  // A Podman service of this test's own (same storage, its own socket), so restarting it
  // disturbs no one else.
  auto dir = make_temp_dir("corral-pool-engine");
  const std::string script = std::string(CORRAL_SOURCE_DIR) + "/scripts/podman-service.sh";
  auto service = [&](const std::string& verb) {
    std::string command = script + " " + verb + " " + (dir / "podman").string() + " > /dev/null";
    return std::system(command.c_str());
  };
  ASSERT_EQ(service("start"), 0);
  const std::string host = "unix://" + (dir / "podman" / "podman.sock").string();
  auto& runner = start_runner("pool-engine", {{"DOCKER_POOL_SIZE", "1"}, {"DOCKER_HOST", host}});
  auto before = wait_ready(runner, 1, host);
  ASSERT_EQ(before.size(), 1u);

  ASSERT_EQ(service("stop"), 0);
  ASSERT_EQ(service("start"), 0);
  // The old container lost its stdin with the engine's connection; a new one replaces it.
  std::set<std::string> after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = ready_pool(runner, host);
        return after.size() == 1 && !after.count(*before.begin());
      },
      60s, 50ms))
      << runner.log();
  std::string id = submit({{"script", "echo host=$(hostname)"}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"});
  EXPECT_EQ(job["state"], "succeeded") << log_of(id) << runner.log();
  EXPECT_TRUE(served_by(after, hostname_in(log_of(id)))) << log_of(id);

  runner.process().signal(SIGTERM);
  EXPECT_EQ(runner.process().wait(60s), 0);
  EXPECT_TRUE(list_containers(host, {"corral.runner=" + runner.id()}).empty());
  service("stop");
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace corral::testing

// No mass requeue after a restart or a store outage (issue 14): the real server gives leases
// one heartbeat timeout of grace after it starts and after its store comes back, so a runner
// that kept heartbeating (its calls failing meanwhile) keeps its job; a runner that stays
// silent still loses its job once the grace and its lease are over.
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "common/pg_test_db.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kGraceHeartbeatIntervalMs = 200;
constexpr int kGraceHeartbeatTimeoutMs = 2000;

std::map<std::string, std::string> grace_leases() {
  return {{"RUNNER_HEARTBEAT_INTERVAL_MS", std::to_string(kGraceHeartbeatIntervalMs)},
          {"RUNNER_HEARTBEAT_TIMEOUT_MS", std::to_string(kGraceHeartbeatTimeoutMs)},
          {"CORRAL_SWEEP_INTERVAL_MS", "50"}};
}

// One heartbeat on a fresh connection: the answer, or nullopt while nothing answers.
std::optional<HttpResponse> try_heartbeat(const std::string& url, const TestRunner& runner,
                                          const json& running) {
  try {
    Api api(url, runner.secret);
    return api.request(http::verb::post, "/api/v1/runners/" + runner.id + "/heartbeat",
                       json({{"running", running}}).dump());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<json> try_get_job(const std::string& url, const std::string& token,
                                const std::string& id) {
  try {
    Api api(url, token);
    auto res = api.request(http::verb::get, "/api/v1/jobs/" + id);
    if (res.status != 200) return std::nullopt;
    return json::parse(res.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct TwoLeasedJobs {
  std::string url;
  std::string user_token;
  TestRunner keeper;   // keeps heartbeating through the outage
  TestRunner quitter;  // stops heartbeating: the control
  std::string kept_job;
  std::string quit_job;
  json keeper_running;
};

TwoLeasedJobs lease_two_jobs(ServerProcess& server) {
  TwoLeasedJobs s;
  s.url = server.url();
  s.user_token = create_token(server, "user");
  Api user(server.url(), s.user_token);
  auto runner_token = create_token(server, "runner");
  s.keeper = TestRunner::register_with(server, runner_token, {{"name", "keeper"}});
  s.quitter = TestRunner::register_with(server, runner_token, {{"name", "quitter"}});
  s.kept_job = user.post("/api/v1/jobs", {{"name", "kept"}, {"command", {"true"}}}, 201)["id"];
  EXPECT_EQ(s.keeper.claim()["jobs"].size(), 1u);
  EXPECT_EQ(s.keeper.start(s.kept_job, 1).status, 200);
  s.keeper_running = json::array({{{"job_id", s.kept_job}, {"attempt", 1}}});
  // The keeper beats between the steps below: on a loaded machine (the sanitized pass) they
  // can take longer than its 2 s lease.
  try_heartbeat(s.url, s.keeper, s.keeper_running);
  s.quit_job = user.post("/api/v1/jobs", {{"name", "quit"}, {"command", {"true"}}}, 201)["id"];
  EXPECT_EQ(s.quitter.claim()["jobs"].size(), 1u);
  try_heartbeat(s.url, s.keeper, s.keeper_running);
  EXPECT_EQ(s.quitter.start(s.quit_job, 1).status, 200);
  try_heartbeat(s.url, s.keeper, s.keeper_running);
  for (const auto& id : {s.kept_job, s.quit_job})
    EXPECT_EQ(user.get("/api/v1/jobs/" + id)["state"], "running");
  return s;
}

// The keeper heartbeats at its interval throughout, as `corral runner` does (a failed call is
// simply retried at the next beat): while what was taken down stays down for longer than
// every lease, while `bring_back` (on a thread of its own) restarts it, and after, until the
// quitter's job is requeued. The keeper's job must still run as attempt 1.
void ride_through(TwoLeasedJobs& s, const std::function<void()>& take_down,
                  const std::function<void()>& bring_back) {
  // Taken down on a thread of its own while the keeper beats (stopping PostgreSQL can take
  // seconds, and the keeper's lease is 2 s).
  std::atomic<int64_t> taken_down_at{0};
  std::thread taking_down([&] {
    take_down();
    taken_down_at = now_ms();
  });
  // Down for longer than a heartbeat timeout: every lease the store holds has run out.
  bool down_long_enough = wait_until(
      [&] {
        try_heartbeat(s.url, s.keeper, s.keeper_running);
        return taken_down_at > 0 && now_ms() > taken_down_at + 2 * kGraceHeartbeatTimeoutMs;
      },
      60s, std::chrono::milliseconds(kGraceHeartbeatIntervalMs));
  taking_down.join();
  ASSERT_TRUE(down_long_enough);
  std::thread restarting(bring_back);
  int beats_answered = 0;
  std::vector<std::string> cancels;
  std::optional<json> quit;
  bool requeued = wait_until(
      [&] {
        auto beat = try_heartbeat(s.url, s.keeper, s.keeper_running);
        if (beat && beat->status == 200) {
          ++beats_answered;
          json commands = json::parse(beat->body)["commands"];  // a temporary's member would dangle
          for (const auto& command : commands) cancels.push_back(command.dump());
        }
        quit = try_get_job(s.url, s.user_token, s.quit_job);
        return quit && quit->value("state", "") == "queued";
      },
      60s, std::chrono::milliseconds(kGraceHeartbeatIntervalMs));
  restarting.join();
  ASSERT_TRUE(requeued) << "the silent runner's job was never requeued";
  EXPECT_GT(beats_answered, 0);
  EXPECT_TRUE(cancels.empty()) << "the keeper was told to stop its job: " << cancels.front();
  EXPECT_EQ((*quit)["attempts"][0]["state"], "lost") << quit->dump();
  auto kept = try_get_job(s.url, s.user_token, s.kept_job);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ((*kept)["state"], "running") << kept->dump();
  EXPECT_EQ((*kept)["attempts"].size(), 1u) << kept->dump();
  // And it finishes normally on the attempt it never lost.
  auto finished = s.keeper.finish(s.kept_job, 1, {{"state", "succeeded"}, {"exit_code", 0}});
  EXPECT_EQ(finished.status, 200) << finished.body;
}

TEST(LeaseGrace, RestartedServerKeepsTheJobsOfRunnersThatKeepHeartbeating) {
  ServerProcess server(grace_leases());
  auto s = lease_two_jobs(server);
  // (The restart listens on the same address; the server's log is read only after it.)
  ride_through(
      s, [&] { server.kill9(); }, [&] { server.start(); });
  EXPECT_NE(server.log().find("leases are not expired before"), std::string::npos) << server.log();
}

TEST(LeaseGrace, StoreOutageLongerThanTheLeasesRequeuesOnlySilentRunners) {
  if (pg_server_url().empty()) GTEST_SKIP() << kPgSkipMessage;
  PgPrivateCluster cluster;
  ASSERT_TRUE(cluster.start()) << cluster.errors();
  auto env = grace_leases();
  env["CORRAL_STORE"] = cluster.url();
  env["CORRAL_ADMIN_TOKEN"] = "crl_lease_grace_test_admin_token_0123456789";
  ServerProcess server(env);
  auto s = lease_two_jobs(server);
  ride_through(
      s, [&] { ASSERT_TRUE(cluster.stop()) << cluster.errors(); },
      [&] { ASSERT_TRUE(cluster.start()) << cluster.errors(); });
  EXPECT_NE(server.log().find("the store is back; leases are not expired"), std::string::npos)
      << server.log();
}

}  // namespace
}  // namespace corral::testing

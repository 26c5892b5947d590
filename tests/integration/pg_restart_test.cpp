// A PostgreSQL restart under a running corral server (docs/scaling.md): while the database
// is down every request that needs it gets 503 naming the database, a token never seen
// before is not taken for a bad one (503, not 401), nothing accepted before is lost, and
// once the database is back the same server process answers again at once; a real runner
// rides through the outage and runs the next job.
#include "common/pg_test_db.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

TEST(PgRestart, RequestsGet503WhileTheDatabaseIsDownAndTheSameServerRecovers) {
  // The cluster is private (stopped and started here); CORRAL_TEST_PG says PostgreSQL is
  // meant to be tested on this machine at all.
  if (pg_server_url().empty()) GTEST_SKIP() << kPgSkipMessage;
  PgPrivateCluster cluster;
  ASSERT_TRUE(cluster.start()) << cluster.errors();
  ServerProcess server({{"CORRAL_STORE", cluster.url()},
                        {"CORRAL_ADMIN_TOKEN", "crl_pg_restart_test_admin_token_0123456789"}});
  Api user(server.url(), create_token(server, "user"));
  Api newcomer(server.url(), create_token(server, "user"));  // first used during the outage
  RunnerProcess runner(server, "rider", {{"RUNNER_EXECUTOR", "shell"}});

  std::string before = user.post("/api/v1/jobs", {{"script", "echo before"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(user, before, {"succeeded", "failed"}, 30s)["state"], "succeeded")
      << runner.log();

  ASSERT_TRUE(cluster.stop()) << cluster.errors();
  auto refused =
      user.request(http::verb::post, "/api/v1/jobs", json({{"script", "echo during"}}).dump());
  EXPECT_EQ(refused.status, 503) << refused.body;
  auto error = json::parse(refused.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << refused.body;
  EXPECT_EQ(error["error"]["code"], "unavailable") << refused.body;
  EXPECT_NE(refused.body.find("127.0.0.1:" + cluster.port()), std::string::npos) << refused.body;
  EXPECT_EQ(user.request(http::verb::get, "/api/v1/jobs/" + before).status, 503);
  EXPECT_EQ(newcomer.request(http::verb::get, "/api/v1/jobs").status, 503);
  // The process itself is alive (a load balancer's liveness check still passes).
  EXPECT_EQ(Api(server.url(), "").get("/healthz")["status"], "ok");

  ASSERT_TRUE(cluster.start()) << cluster.errors();
  // The same server, not restarted: the first request after the restart is answered.
  auto after =
      user.request(http::verb::post, "/api/v1/jobs", json({{"script", "echo after"}}).dump());
  ASSERT_EQ(after.status, 201) << after.body;
  std::string after_id = json::parse(after.body)["id"];
  EXPECT_EQ(newcomer.request(http::verb::get, "/api/v1/jobs/" + after_id).status, 200);
  // The runner's heartbeats and claims failed meanwhile; it keeps going and runs the job.
  auto done = wait_for_job(user, after_id, {"succeeded", "failed"}, 60s);
  EXPECT_EQ(done["state"], "succeeded") << done.dump() << "\n" << runner.log();
  EXPECT_EQ(user.get("/api/v1/jobs/" + before)["state"], "succeeded");
  // Nothing the outage refused was stored: two jobs, the one before and the one after.
  EXPECT_EQ(user.get("/api/v1/jobs")["jobs"].size(), 2u);
}

}  // namespace
}  // namespace corral::testing

// The attacks of issue 13, tried through the real `corral server` binary over HTTP: a runner
// takeover by name, secrets read through the API, credentials outliving their revocation.
// Each test fails on a server without the defence.
#include "harness.h"
#include "log_watcher.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

std::string error_message(const HttpResponse& res) {
  auto body = json::parse(res.body, nullptr, false);
  return body.is_discarded() ? res.body : body["error"]["message"].get<std::string>();
}

// A runner token made by a user (not an admin), as any user of a tenant may.
std::string user_runner_token(Api& user, const std::string& name) {
  return user.post("/api/v1/tokens", {{"kind", "runner"}, {"name", name}}, 201)["token"];
}

TEST(Security, AUserCannotTakeOverAnotherTokensRunnerByItsName) {
  ServerProcess server;
  Api alice(server.url(), create_token(server, "user", "default", "alice"));
  Api bob(server.url(), create_token(server, "user", "default", "bob"));
  std::string team_token = create_token(server, "runner");
  auto team =
      TestRunner::register_with(server, team_token, {{"name", "team-box"}, {"labels", {"linux"}}});

  // Bob makes his own runner token and registers the same name: refused, naming the runner.
  Api bobs_runner(server.url(), user_runner_token(bob, "bob-box"));
  auto takeover = bobs_runner.request(http::verb::post, "/api/v1/runners/register",
                                      json{{"name", "team-box"}, {"labels", {"linux"}}}.dump());
  EXPECT_EQ(takeover.status, 409) << takeover.body;
  EXPECT_NE(error_message(takeover).find(team.id), std::string::npos) << takeover.body;
  EXPECT_EQ(takeover.body.find("secret"), std::string::npos);

  // Under another name it registers, and is owner-only whatever it declares.
  auto reg = bobs_runner.post(
      "/api/v1/runners/register",
      {{"name", "bob-box"}, {"labels", {"linux"}}, {"owner_only", false}, {"group", "default"}});
  EXPECT_EQ(reg["owner_only"], true);
  TestRunner bobs{reg["runner_id"], reg["secret"],
                  std::make_unique<Api>(server.url(), reg["secret"].get<std::string>())};

  auto job = alice.post("/api/v1/jobs",
                        {{"command", {"env"}},
                         {"labels", {"linux"}},
                         {"env", {{"MODE", "ci"}}},
                         {"secrets", {{"SECRET", "s3cr3t"}}}},
                        201);
  std::string id = job["id"];
  EXPECT_EQ(bobs.claim(200)["jobs"].size(), 0u);  // not Bob's job
  auto claimed = team.claim(0)["jobs"];
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0]["job_id"], id);
  EXPECT_EQ(claimed[0]["secrets"]["SECRET"],
            "s3cr3t");  // only the runner holding the attempt gets it

  // Team-box restarts with its own token: the same runner.
  auto again =
      TestRunner::register_with(server, team_token, {{"name", "team-box"}, {"labels", {"linux"}}});
  EXPECT_EQ(again.id, team.id);
}

// A token in a URL ends up in proxies' and servers' access logs and in browser history: the
// query form is accepted only where a browser has no other way, the log stream's WebSocket.
TEST(Security, ATokenInTheQueryIsRefusedExceptOnTheLogStream) {
  ServerProcess server;
  std::string admin = server.admin_token();
  Api anonymous(server.url(), "");
  for (const char* target :
       {"/api/v1/jobs", "/api/v1/runners", "/api/v1/tokens", "/api/v1/queue"}) {
    auto res = anonymous.request(http::verb::get, std::string(target) + "?token=" + admin);
    EXPECT_EQ(res.status, 401) << target << ": " << res.body;
  }
  Api api(server.url(), admin);
  std::string id = api.post("/api/v1/jobs", {{"script", "true"}}, 201)["id"];
  LogWatcher watcher(server.url(), stream_target(id, "token=" + admin), "");
  EXPECT_EQ(watcher.status, 101) << watcher.refusal;
}

TEST(Security, SecretValuesAreNeverShownByTheApi) {
  ServerProcess server;
  Api alice(server.url(), create_token(server, "user", "default", "alice"));
  Api bob(server.url(), create_token(server, "user", "default", "bob"));
  auto job = alice.post("/api/v1/jobs",
                        {{"command", {"env"}},
                         {"secrets", {{"SECRET", "s3cr3t-value"}}},
                         {"repo", {{"url", "https://ci-bot:gh-pa55word@git.example.com/o/r.git"}}}},
                        201);
  std::string id = job["id"];
  for (Api* api : {&alice, &bob}) {
    auto shown = api->request(http::verb::get, "/api/v1/jobs/" + id);
    ASSERT_EQ(shown.status, 200);
    EXPECT_EQ(shown.body.find("s3cr3t-value"), std::string::npos) << shown.body;
    EXPECT_EQ(shown.body.find("gh-pa55word"), std::string::npos) << shown.body;
    auto parsed = json::parse(shown.body);
    EXPECT_EQ(parsed["spec"]["secrets"], json({"SECRET"}));
    EXPECT_EQ(parsed["spec"]["repo"]["url"], "https://***@git.example.com/o/r.git");
    auto list = api->request(http::verb::get, "/api/v1/jobs");
    EXPECT_EQ(list.body.find("s3cr3t-value"), std::string::npos);
  }
  EXPECT_EQ(job.dump().find("s3cr3t-value"), std::string::npos);  // the submit's answer too
  // Secrets as a list (no values) or of the wrong type: 422 naming the field.
  auto listed =
      alice.request(http::verb::post, "/api/v1/jobs", R"({"command":["x"],"secrets":["A"]})");
  EXPECT_EQ(listed.status, 422);
  EXPECT_NE(error_message(listed).find("secrets"), std::string::npos);
  auto typed =
      alice.request(http::verb::post, "/api/v1/jobs", R"({"command":["x"],"secrets":{"A":5}})");
  EXPECT_EQ(typed.status, 422);
  EXPECT_NE(error_message(typed).find("secrets.A"), std::string::npos);
  auto both = alice.request(http::verb::post, "/api/v1/jobs",
                            R"({"command":["x"],"env":{"A":"1"},"secrets":{"A":"2"}})");
  EXPECT_EQ(both.status, 422);
  // Schedules: names only too.
  auto schedule =
      alice.post("/api/v1/schedules",
                 {{"name", "nightly"},
                  {"cron", "0 3 * * *"},
                  {"job", {{"command", {"true"}}, {"secrets", {{"TOKEN", "sch-s3cr3t"}}}}}},
                 201);
  EXPECT_EQ(schedule.dump().find("sch-s3cr3t"), std::string::npos);
  EXPECT_EQ(alice.request(http::verb::get, "/api/v1/schedules").body.find("sch-s3cr3t"),
            std::string::npos);
  // The CLI shows what the API shows.
  auto cli = run_corral({"job", id},
                        {{"CORRAL_SERVER", server.url()}, {"CORRAL_TOKEN", server.admin_token()}});
  EXPECT_EQ(cli.out.find("s3cr3t-value"), std::string::npos) << cli.out;
}

TEST(Security, RevokingATokenRevokesWhatItMadeAndClosesItsStreams) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  std::string user_secret = create_token(server, "user", "default", "mallory");
  Api user(server.url(), user_secret);
  std::string user_id;
  json tokens = admin.get("/api/v1/tokens")["tokens"];
  for (const auto& t : tokens) {
    if (t["name"] == "mallory") user_id = t["id"];
  }
  std::string registration = user_runner_token(user, "mallory-box");
  auto runner = TestRunner::register_with(server, registration, {{"name", "mallory-box"}});
  auto job = user.post("/api/v1/jobs", {{"script", "sleep 1000"}}, 201);
  std::string id = job["id"];
  auto claimed = runner.claim(0)["jobs"];
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(runner.start(id, 1).status, 200);
  user.post("/api/v1/schedules",
            {{"name", "nightly"}, {"cron", "* * * * *"}, {"job", {{"command", {"true"}}}}}, 201);
  LogWatcher watcher(server.url(), "/api/v1/jobs/" + id + "/logs/stream", user_secret);
  ASSERT_EQ(watcher.status, 101) << watcher.refusal;
  watcher.start();

  auto revoked = admin.del("/api/v1/tokens/" + user_id);
  EXPECT_EQ(revoked["revoked_runner_tokens"].size(), 1u);
  EXPECT_EQ(revoked["revoked_runners"], json({runner.id}));
  EXPECT_EQ(revoked["paused_schedules"].size(), 1u);
  EXPECT_EQ(revoked["requeued_jobs"], json({id}));

  // The runner token and the runner's secret are dead; its job is back in the queue at once.
  Api reg(server.url(), registration);
  EXPECT_EQ(reg.request(http::verb::post, "/api/v1/runners/register",
                        json{{"name", "mallory-box"}}.dump())
                .status,
            401);
  EXPECT_EQ(
      runner.api->request(http::verb::post, "/api/v1/runners/" + runner.id + "/heartbeat", "{}")
          .status,
      401);
  EXPECT_EQ(admin.get("/api/v1/jobs/" + id)["state"], "queued");
  // The open log stream closes within a few seconds.
  EXPECT_TRUE(watcher.wait_closed(8s)) << "the revoked token's stream is still open";
  // Its schedule is paused with the reason, and cannot be resumed.
  auto schedules = admin.get("/api/v1/schedules")["schedules"];
  ASSERT_EQ(schedules.size(), 1u);
  EXPECT_EQ(schedules[0]["paused"], true);
  EXPECT_NE(schedules[0]["paused_reason"].get<std::string>().find("revoked"), std::string::npos);
  auto resume = admin.request(http::verb::post, "/api/v1/schedules/nightly/resume");
  EXPECT_EQ(resume.status, 409) << resume.body;
  auto cli = run_corral({"schedules"},
                        {{"CORRAL_SERVER", server.url()}, {"CORRAL_TOKEN", server.admin_token()}});
  EXPECT_NE(cli.out.find("revoked"), std::string::npos) << cli.out;
}

TEST(Security, AnAdminDeletesARunnerAndItsJobIsRequeuedAtOnce) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  Api user(server.url(), create_token(server, "user"));
  std::string registration = create_token(server, "runner");
  auto runner = TestRunner::register_with(server, registration, {{"name", "doomed"}});
  std::string id = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  ASSERT_EQ(runner.claim(0)["jobs"].size(), 1u);
  EXPECT_EQ(user.request(http::verb::delete_, "/api/v1/runners/" + runner.id).status,
            403);  // admins only
  auto removed = admin.del("/api/v1/runners/" + runner.id);
  EXPECT_EQ(removed["requeued_jobs"], json({id}));
  EXPECT_EQ(user.get("/api/v1/jobs/" + id)["state"], "queued");
  EXPECT_EQ(
      runner.api->request(http::verb::post, "/api/v1/runners/" + runner.id + "/claim", "{}").status,
      401);
  EXPECT_EQ(admin.request(http::verb::get, "/api/v1/runners/" + runner.id).status, 404);
  EXPECT_EQ(admin.request(http::verb::delete_, "/api/v1/runners/" + runner.id).status, 404);
  // Another runner takes the job straight away.
  auto other = TestRunner::register_with(server, registration, {{"name", "other"}});
  EXPECT_EQ(other.claim(0)["jobs"].size(), 1u);
}

TEST(Security, ReRegisteringKeepsAnAdminsDrain) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  Api user(server.url(), create_token(server, "user"));
  std::string registration = create_token(server, "runner");
  auto runner = TestRunner::register_with(server, registration, {{"name", "box"}});
  admin.post("/api/v1/runners/" + runner.id + "/drain", json::object());
  Api reg(server.url(), registration);
  auto again = reg.post("/api/v1/runners/register", {{"name", "box"}});
  EXPECT_EQ(again["runner_id"], runner.id);
  EXPECT_EQ(again["draining"], true);
  TestRunner restarted{again["runner_id"], again["secret"],
                       std::make_unique<Api>(server.url(), again["secret"].get<std::string>())};
  user.post("/api/v1/jobs", {{"command", {"true"}}}, 201);
  EXPECT_EQ(restarted.claim(0)["jobs"].size(), 0u);
  EXPECT_EQ(admin.get("/api/v1/runners/" + runner.id)["status"], "draining");
  admin.post("/api/v1/runners/" + runner.id + "/resume", json::object());
  EXPECT_EQ(restarted.claim(0)["jobs"].size(), 1u);
}

TEST(Security, AnAdminPinsTheGroupAndLabelsOfARunnerToken) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  Api user(server.url(), create_token(server, "user"));
  auto made = admin.post(
      "/api/v1/tokens",
      {{"kind", "runner"}, {"name", "gpu-pool"}, {"group", "gpu"}, {"labels", {"gpu", "linux"}}},
      201);
  EXPECT_EQ(made["runner_policy"]["group"], "gpu");
  Api reg(server.url(), made["token"].get<std::string>());
  auto runner = reg.post("/api/v1/runners/register",
                         {{"name", "claims-much"}, {"group", "prod"}, {"labels", {"prod"}}});
  EXPECT_EQ(runner["group"], "gpu");
  EXPECT_EQ(runner["labels"], json({"gpu", "linux"}));
  // Users may not pin, nor make runner tokens that are not owner-only.
  auto pin = user.request(http::verb::post, "/api/v1/tokens",
                          R"({"kind":"runner","name":"x","group":"prod"})");
  EXPECT_EQ(pin.status, 403);
  auto shared = user.request(http::verb::post, "/api/v1/tokens",
                             R"({"kind":"runner","name":"x","owner_only":false})");
  EXPECT_EQ(shared.status, 403);
  auto bad = admin.request(http::verb::post, "/api/v1/tokens",
                           R"({"kind":"runner","name":"x","labels":"gpu"})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(error_message(bad).find("labels"), std::string::npos);
}

}  // namespace
}  // namespace corral::testing

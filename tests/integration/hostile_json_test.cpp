// Hostile JSON sent to the real `corral server` binary over HTTP: nesting past 64 levels is
// refused with 400 before a deep value exists (200,000 levels once killed the server through
// a recursive copy), a field of the wrong type is 422 naming it, a body that is not an object
// is 4xx, never 500; and the server keeps serving everyone else.
#include "harness.h"

namespace corral::testing {
namespace {

// A 400 KB value: arrays 200,000 deep.
std::string nested_200k() {
  return std::string(200'000, '[') + std::string(200'000, ']');
}
// Arrays `levels` deep.
std::string nested_arrays_of(size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// What a request got: its status, or -1 when the connection failed (the server died or
// dropped it), and the error message of a JSON error body.
struct HostileAnswer {
  int status = -1;
  std::string body;
  std::string message;
};

HostileAnswer send_text(Api& api, http::verb method, const std::string& target,
                        const std::string& body) {
  HostileAnswer answer;
  try {
    auto res = api.request(method, target, body);
    answer.status = res.status;
    answer.body = res.body;
  } catch (const std::exception& e) {
    answer.body = e.what();
    return answer;
  }
  auto parsed = json::parse(answer.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    answer.message = parsed["error"].value("message", "");
  }
  return answer;
}

class HostileJson : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>();
    admin_ = std::make_unique<Api>(server_->url(), server_->admin_token());
    user_ = std::make_unique<Api>(server_->url(), create_token(*server_, "user"));
    // A user may make runner registration tokens: that is all the access the attack needs.
    registration_ =
        user_->post("/api/v1/tokens", {{"kind", "runner"}, {"name", "mine"}}, 201)["token"];
    registrar_ = std::make_unique<Api>(server_->url(), registration_);
  }

  TestRunner runner(const std::string& name) {
    return TestRunner::register_with(*server_, registration_, {{"name", name}});
  }

  // A job leased to r and started: {job id, attempt 1}.
  std::string running_job(TestRunner& r) {
    std::string id = user_->post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
    auto claimed = r.claim();
    EXPECT_EQ(claimed["jobs"].size(), 1u);
    EXPECT_EQ(r.start(id, 1).status, 200);
    return id;
  }

  // The server answers other requests as before: a job listing and a normal registration.
  void expect_still_serving() {
    EXPECT_EQ(send_text(*user_, http::verb::get, "/api/v1/jobs", "").status, 200);
    auto registered =
        send_text(*registrar_, http::verb::post, "/api/v1/runners/register", R"({"name":"after"})");
    EXPECT_EQ(registered.status, 200) << registered.body;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> admin_;
  std::unique_ptr<Api> user_;
  std::string registration_;
  std::unique_ptr<Api> registrar_;
};

void expect_depth_refused(const HostileAnswer& answer) {
  EXPECT_EQ(answer.status, 400) << answer.body.substr(0, 300);
  EXPECT_NE(answer.message.find("nested deeper than 64 levels"), std::string::npos)
      << answer.body.substr(0, 300);
}

TEST_F(HostileJson, RegisterWithCapabilitiesNested200000DeepIs400AndTheServerKeepsServing) {
  std::string body = R"({"name":"deep","capabilities":{"a":)" + nested_200k() + "}}";
  expect_depth_refused(send_text(*registrar_, http::verb::post, "/api/v1/runners/register", body));
  expect_still_serving();
  json runners =
      user_->get("/api/v1/runners")["runners"];  // (not a temporary's member: it would dangle)
  for (const auto& r : runners) EXPECT_NE(r["name"], "deep");
}

TEST_F(HostileJson, SixtyFourLevelsAreAcceptedAndSixtyFiveRefused) {
  // The body is level 1, capabilities level 2, then the arrays.
  std::string at_limit = R"({"name":"edge","capabilities":{"a":)" + nested_arrays_of(62) + "}}";
  auto accepted = send_text(*registrar_, http::verb::post, "/api/v1/runners/register", at_limit);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  std::string id = json::parse(accepted.body)["runner_id"];
  EXPECT_EQ(user_->get("/api/v1/runners/" + id)["capabilities"]["a"],
            json::parse(nested_arrays_of(62)));
  std::string past_limit = R"({"name":"edge","capabilities":{"a":)" + nested_arrays_of(63) + "}}";
  expect_depth_refused(
      send_text(*registrar_, http::verb::post, "/api/v1/runners/register", past_limit));
}

TEST_F(HostileJson, HeartbeatUsageNested200000DeepIs400AndTheServerKeepsServing) {
  auto r = runner("r1");
  std::string body = R"({"running":[],"usage":{"a":)" + nested_200k() + "}}";
  expect_depth_refused(
      send_text(*r.api, http::verb::post, "/api/v1/runners/" + r.id + "/heartbeat", body));
  expect_still_serving();
  auto fine = send_text(*r.api, http::verb::post, "/api/v1/runners/" + r.id + "/heartbeat",
                        R"({"running":[],"usage":{"load":1}})");
  EXPECT_EQ(fine.status, 200) << fine.body;
  EXPECT_EQ(user_->get("/api/v1/runners/" + r.id)["usage"], json({{"load", 1}}));
}

TEST_F(HostileJson, FinishResultNested200000DeepIs400AndAGoodFinishStillWorks) {
  auto r = runner("r1");
  std::string id = running_job(r);
  std::string finish = "/api/v1/jobs/" + id + "/attempts/1/finish";
  std::string body = R"({"state":"succeeded","exit_code":0,"result":{"a":)" + nested_200k() + "}}";
  expect_depth_refused(send_text(*r.api, http::verb::post, finish, body));
  expect_still_serving();
  auto fine =
      r.finish(id, 1, {{"state", "succeeded"}, {"exit_code", 0}, {"result", {{"ok", true}}}});
  EXPECT_EQ(fine.status, 200) << fine.body;
  auto job = user_->get("/api/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["result"], json({{"ok", true}}));
}

TEST_F(HostileJson, JobAndScheduleSpecsNested200000DeepAre400) {
  expect_depth_refused(send_text(*user_, http::verb::post, "/api/v1/jobs",
                                 R"({"command":["true"],"env":{"A":)" + nested_200k() + "}}"));
  expect_depth_refused(
      send_text(*user_, http::verb::post, "/api/v1/schedules",
                R"({"name":"n","cron":"@daily","job":{"command":)" + nested_200k() + "}}"));
  expect_still_serving();
  EXPECT_EQ(user_->get("/api/v1/jobs")["jobs"].size(), 0u);
}

TEST_F(HostileJson, AFieldOfTheWrongTypeIs422NamingTheField) {
  auto r = runner("r1");
  std::string heartbeat = "/api/v1/runners/" + r.id + "/heartbeat";
  std::string claim = "/api/v1/runners/" + r.id + "/claim";
  // The finish body is read before the attempt is looked up: no job is needed.
  std::string finish = "/api/v1/jobs/job_none/attempts/1/finish";
  struct Case {
    Api* api;
    http::verb method;
    std::string target;
    std::string body;
    std::string field;
  };
  std::vector<Case> cases{
      {r.api.get(), http::verb::post, heartbeat, R"({"draining":"yes"})", "draining"},
      {r.api.get(), http::verb::post, heartbeat, R"({"going_away":1})", "going_away"},
      {r.api.get(), http::verb::post, heartbeat, R"({"running":[{"job_id":5,"attempt":1}]})",
       "running"},
      {r.api.get(), http::verb::post, claim, R"({"slots":"2"})", "slots"},
      {r.api.get(), http::verb::post, claim, R"({"wait_ms":[]})", "wait_ms"},
      {r.api.get(), http::verb::post, finish, R"({"state":"succeeded","exit_code":"0"})",
       "exit_code"},
      {r.api.get(), http::verb::post, finish, R"({"state":true})", "state"},
      {user_.get(), http::verb::post, "/api/v1/jobs", R"({"command":["true"],"priority":"high"})",
       "priority"},
      {user_.get(), http::verb::post, "/api/v1/jobs", R"({"command":["true"],"env":{"A":1}})",
       "env.A"},
      {user_.get(), http::verb::post, "/api/v1/jobs", R"({"command":["true"],"timeout_s":1.5})",
       "timeout_s"},
      {registrar_.get(), http::verb::post, "/api/v1/runners/register",
       R"({"name":"x","max_concurrent_jobs":"x"})", "max_concurrent_jobs"},
      {registrar_.get(), http::verb::post, "/api/v1/runners/register",
       R"({"name":"x","capabilities":[1]})", "capabilities"},
      {user_.get(), http::verb::post, "/api/v1/tokens", R"({"kind":5,"name":"t"})", "kind"},
      {user_.get(), http::verb::post, "/api/v1/tokens", R"({"kind":"runner","name":5})", "name"},
      {user_.get(), http::verb::post, "/api/v1/tokens",
       R"({"kind":"runner","name":"t","tenant":{}})", "tenant"},
      {user_.get(), http::verb::put, "/api/v1/me/settings", R"({"steward_fallback":"yes"})",
       "steward_fallback"},
      {user_.get(), http::verb::post, "/api/v1/schedules",
       R"({"name":"n","cron":5,"job":{"script":"true"}})", "cron"},
      {admin_.get(), http::verb::put, "/api/v1/repos/o/n", R"({"group":5})", "group"},
  };
  for (const auto& c : cases) {
    auto answer = send_text(*c.api, c.method, c.target, c.body);
    EXPECT_EQ(answer.status, 422) << c.target << " " << c.body << " -> " << answer.body;
    EXPECT_NE(answer.message.find("field '" + c.field + "'"), std::string::npos)
        << c.target << " " << c.body << " -> " << answer.body;
  }
  expect_still_serving();
}

TEST_F(HostileJson, ABodyThatIsNotAnObjectIs4xxOnEveryRoute) {
  auto r = runner("r1");
  struct Route {
    Api* api;
    http::verb method;
    std::string target;
  };
  std::vector<Route> routes{
      {registrar_.get(), http::verb::post, "/api/v1/runners/register"},
      {r.api.get(), http::verb::post, "/api/v1/runners/" + r.id + "/heartbeat"},
      {r.api.get(), http::verb::post, "/api/v1/runners/" + r.id + "/claim"},
      {r.api.get(), http::verb::post, "/api/v1/jobs/job_none/attempts/1/finish"},
      {user_.get(), http::verb::post, "/api/v1/jobs"},
      {user_.get(), http::verb::post, "/api/v1/tokens"},
      {user_.get(), http::verb::post, "/api/v1/schedules"},
      {user_.get(), http::verb::put, "/api/v1/me/settings"},
      {admin_.get(), http::verb::put, "/api/v1/repos/o/n"},
  };
  for (const auto& route : routes) {
    for (const std::string body :
         {"[]", "[{}]", "42", "\"x\"", "null", "true", "{", "{\"a\":1}x"}) {
      auto answer = send_text(*route.api, route.method, route.target, body);
      EXPECT_TRUE(answer.status >= 400 && answer.status < 500)
          << route.target << " with body " << body << " -> " << answer.status << " " << answer.body;
      EXPECT_FALSE(answer.message.empty())
          << route.target << " with body " << body << " -> " << answer.body;
    }
  }
  expect_still_serving();
}

TEST_F(HostileJson, BytesThatAreNotUtf8InAPathAreAnsweredNotFatal) {
  // Error messages echo the path; the JSON answer replaces what is not UTF-8.
  auto unknown = send_text(*user_, http::verb::get, "/api/v1/no\xff\xfe", "");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(unknown.message.find("no such endpoint"), std::string::npos) << unknown.body;
  auto wrong_method = send_text(*admin_, http::verb::put, "/api/v1/tokens/\xff", "");
  EXPECT_EQ(wrong_method.status, 405) << wrong_method.body;
  auto decoded = send_text(*user_, http::verb::get, "/api/v1/runners/%ff", "");
  EXPECT_EQ(decoded.status, 404) << decoded.body;
  auto r = runner("r1");
  auto attempt = send_text(*r.api, http::verb::post, "/api/v1/jobs/j/attempts/%ff/start", "");
  EXPECT_EQ(attempt.status, 400) << attempt.body;
  EXPECT_NE(attempt.message.find("attempt must be a positive integer"), std::string::npos)
      << attempt.body;
  expect_still_serving();
}

}  // namespace
}  // namespace corral::testing

// Batches over HTTP against the real `corral server`: several jobs in one submit
// (POST /api/v1/jobs/batch) and the starts and finishes of several attempts in one runner
// call (POST /api/v1/runners/{id}/reports). docs/api.md, "Batches".
#include <set>

#include "harness.h"

namespace corral::testing {
namespace {

json spec(const std::string& name) {
  return {{"name", name}, {"command", {"echo", name}}};
}

json batch_of(int n, const std::string& prefix) {
  json jobs = json::array();
  for (int i = 0; i < n; ++i) jobs.push_back(spec(prefix + std::to_string(i)));
  return {{"jobs", jobs}};
}

size_t job_count(Api& api) {
  return api.get("/api/v1/jobs?limit=500")["jobs"].size();
}

std::string error_message(const HttpResponse& res) {
  auto body = json::parse(res.body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"].value("message", "") : "";
}

TEST(BatchTest, ABatchOfJobsIsStoredWholeOrNotAtAll) {
  ServerProcess server({}, {}, {"--max-queued-per-tenant", "8"});
  Api user(server.url(), create_token(server, "user"));

  auto made = user.post("/api/v1/jobs/batch", batch_of(3, "a"), 201);
  ASSERT_EQ(made["jobs"].size(), 3u);
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(made["jobs"][i]["name"], "a" + std::to_string(i));
    EXPECT_EQ(made["jobs"][i]["state"], "queued");
    ids.insert(made["jobs"][i]["id"].get<std::string>());
    EXPECT_EQ(user.get("/api/v1/jobs/" + made["jobs"][i]["id"].get<std::string>())["name"],
              "a" + std::to_string(i));
  }
  EXPECT_EQ(ids.size(), 3u);

  // One bad spec refuses the batch, names it, and stores none of the good ones beside it.
  json bad = batch_of(3, "b");
  bad["jobs"][2]["comand"] = {"true"};
  auto refused = user.request(http::verb::post, "/api/v1/jobs/batch", bad.dump());
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(error_message(refused).find("jobs[2]"), std::string::npos) << refused.body;
  EXPECT_NE(error_message(refused).find("comand"), std::string::npos) << refused.body;
  EXPECT_EQ(job_count(user), 3u);

  for (const json& body : {json{{"jobs", json::array()}}, json{{"jobs", "x"}}, json::object(),
                           json{{"jobs", json::array({spec("c")})}, {"extra", 1}}}) {
    auto res = user.request(http::verb::post, "/api/v1/jobs/batch", body.dump());
    EXPECT_EQ(res.status, 422) << body.dump() << " -> " << res.body;
  }
  auto too_many = user.request(http::verb::post, "/api/v1/jobs/batch", batch_of(501, "d").dump());
  EXPECT_EQ(too_many.status, 422) << too_many.body;
  EXPECT_NE(error_message(too_many).find("500"), std::string::npos) << too_many.body;
  EXPECT_EQ(job_count(user), 3u);

  // A repeated batch with the same Idempotency-Key answers the jobs the first one made.
  auto first = user.request(http::verb::post, "/api/v1/jobs/batch", batch_of(2, "k").dump(),
                            {{"Idempotency-Key", "nightly-42"}});
  ASSERT_EQ(first.status, 201) << first.body;
  auto again = user.request(http::verb::post, "/api/v1/jobs/batch", batch_of(2, "k").dump(),
                            {{"Idempotency-Key", "nightly-42"}});
  ASSERT_EQ(again.status, 200) << again.body;
  auto first_jobs = json::parse(first.body)["jobs"];
  auto again_jobs = json::parse(again.body)["jobs"];
  ASSERT_EQ(again_jobs.size(), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(again_jobs[i]["id"], first_jobs[i]["id"]);
  EXPECT_EQ(job_count(user), 5u);

  // The quota counts the whole batch: 5 unfinished + 4 would pass 8, so none is stored.
  auto over = user.request(http::verb::post, "/api/v1/jobs/batch", batch_of(4, "q").dump());
  EXPECT_EQ(over.status, 429) << over.body;
  EXPECT_NE(error_message(over).find("--max-queued-per-tenant 8"), std::string::npos) << over.body;
  EXPECT_EQ(job_count(user), 5u);
  user.post("/api/v1/jobs/batch", batch_of(3, "q"), 201);
  EXPECT_EQ(job_count(user), 8u);
}

TEST(BatchTest, PreferReturnMinimalAnswersEachJobAsItsIdAndState) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  auto keys_of = [](const json& job) {
    std::set<std::string> keys;
    for (const auto& [key, value] : job.items()) keys.insert(key);
    return keys;
  };
  const std::set<std::string> minimal{"id", "state"};

  // RFC 7240's header, among other preferences and with a parameter, on a batch.
  auto batch = user.request(http::verb::post, "/api/v1/jobs/batch", batch_of(3, "m").dump(),
                            {{"Prefer", "respond-async, return=minimal; x=1"}});
  ASSERT_EQ(batch.status, 201) << batch.body;
  EXPECT_EQ(batch.header("preference-applied"), "return=minimal");
  auto jobs = json::parse(batch.body)["jobs"];
  ASSERT_EQ(jobs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(keys_of(jobs[i]), minimal) << jobs[i].dump();
    EXPECT_EQ(jobs[i]["state"], "queued");
    // The ids are the stored jobs'.
    EXPECT_EQ(user.get("/api/v1/jobs/" + jobs[i]["id"].get<std::string>())["name"],
              "m" + std::to_string(i));
  }

  // One job.
  auto one = user.request(http::verb::post, "/api/v1/jobs", spec("single").dump(),
                          {{"Prefer", "return=minimal"}});
  ASSERT_EQ(one.status, 201) << one.body;
  EXPECT_EQ(one.header("preference-applied"), "return=minimal");
  EXPECT_EQ(keys_of(json::parse(one.body)), minimal) << one.body;

  // Without it, or asking for the representation, the whole job comes back.
  for (const std::string& prefer : {std::string(), std::string("return=representation")}) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!prefer.empty()) headers.emplace_back("Prefer", prefer);
    auto full = user.request(http::verb::post, "/api/v1/jobs", spec("full").dump(), headers);
    ASSERT_EQ(full.status, 201) << full.body;
    EXPECT_EQ(full.header("preference-applied"), "");
    auto job = json::parse(full.body);
    EXPECT_EQ(job["name"], "full");
    EXPECT_TRUE(job.contains("spec")) << full.body;
  }
}

TEST(BatchTest, ReportsStartAndFinishSeveralAttemptsEachFencedOnItsOwn) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  std::string reg = create_token(server, "runner");
  auto runner =
      TestRunner::register_with(server, reg, {{"name", "r1"}, {"max_concurrent_jobs", 3}});
  auto other = TestRunner::register_with(server, reg, {{"name", "r2"}});

  auto made = user.post("/api/v1/jobs/batch", batch_of(3, "j"), 201);
  std::vector<std::string> ids;
  for (const auto& j : made["jobs"]) ids.push_back(j["id"]);
  auto claimed = runner.claim(0, 3);
  ASSERT_EQ(claimed["jobs"].size(), 3u);
  // Claimed in the order the batch listed them.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(claimed["jobs"][i]["job_id"], ids[i]);

  auto report = [&](TestRunner& r, const json& body) {
    return r.api->request(http::verb::post, "/api/v1/runners/" + r.id + "/reports", body.dump());
  };
  auto item = [&](int i, int attempt = 1) {
    return json{{"job_id", ids[i]}, {"attempt", attempt}};
  };
  auto finish = [&](int i, const std::string& state, int exit_code) {
    json f = item(i);
    f["state"] = state;
    f["exit_code"] = exit_code;
    return f;
  };

  // Start all three and finish the first in one call; a stale attempt number is refused
  // on its own (409) while the others go through.
  auto res = report(runner, {{"start", {item(0), item(1), item(2), item(1, 7)}},
                             {"finish", {finish(0, "succeeded", 0)}}});
  ASSERT_EQ(res.status, 200) << res.body;
  auto answer = json::parse(res.body);
  ASSERT_EQ(answer["start"].size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answer["start"][i]["status"], 200) << answer.dump();
  EXPECT_EQ(answer["start"][3]["status"], 409) << answer.dump();
  EXPECT_EQ(answer["start"][3]["error"]["code"], "conflict") << answer.dump();
  ASSERT_EQ(answer["finish"].size(), 1u);
  EXPECT_EQ(answer["finish"][0]["status"], 200) << answer.dump();
  EXPECT_EQ(answer["finish"][0]["state"], "succeeded");
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[0])["state"], "succeeded");
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[1])["state"], "running");
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[2])["state"], "running");

  // Another runner cannot finish them, neither through its own reports nor through r1's.
  auto theirs = report(other, {{"finish", {finish(1, "failed", 1)}}});
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  EXPECT_EQ(json::parse(theirs.body)["finish"][0]["status"], 409) << theirs.body;
  auto wrong_path =
      other.api->request(http::verb::post, "/api/v1/runners/" + runner.id + "/reports",
                         json{{"finish", {finish(1, "failed", 1)}}}.dump());
  EXPECT_EQ(wrong_path.status, 403) << wrong_path.body;
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[1])["state"], "running");

  // A malformed item refuses the whole call, named, before anything is stored.
  json broken = finish(2, "succeeded", 0);
  broken.erase("state");
  auto refused = report(runner, {{"finish", {finish(1, "succeeded", 0), broken}}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(error_message(refused).find("finish[1]"), std::string::npos) << refused.body;
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[1])["state"], "running");
  for (const json& body : {json{{"start", {{{"job_id", ids[1]}}}}}, json{{"start", "x"}},
                           json{{"stop", json::array()}}}) {
    auto res2 = report(runner, body);
    EXPECT_EQ(res2.status, 422) << body.dump() << " -> " << res2.body;
  }

  // The rest, together; a repeated finish answers 200 again, as the single call does.
  auto rest = report(
      runner,
      {{"finish", {finish(1, "succeeded", 0), finish(2, "failed", 3), finish(0, "succeeded", 0)}}});
  ASSERT_EQ(rest.status, 200) << rest.body;
  auto rest_answer = json::parse(rest.body);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rest_answer["finish"][i]["status"], 200) << rest.body;
  auto failed = user.get("/api/v1/jobs/" + ids[2]);
  // A plain failure is not retried: the job has failed for good with the exit code.
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_EQ(failed["exit_code"], 3);
  EXPECT_EQ(user.get("/api/v1/jobs/" + ids[1])["state"], "succeeded");
  EXPECT_EQ(user.get("/api/v1/runners/" + runner.id)["status"], "idle");
}

}  // namespace
}  // namespace corral::testing

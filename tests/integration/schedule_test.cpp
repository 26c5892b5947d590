// Scheduled jobs through the real binary: the API (create, list, get, delete, pause,
// validation, tenants), the CLI table, and one end-to-end tick.
#include <chrono>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

json nightly(const std::string& name = "nightly") {
  return {{"name", name},
          {"cron", "0 2 * * *"},
          {"timezone", "Europe/Berlin"},
          {"cooldown_s", 3600},
          {"job", {{"command", {"echo", "refresh"}}, {"labels", {"linux"}}}}};
}

TEST(Schedules, CreateListGetDelete) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  auto created = user.post("/api/v1/schedules", nightly(), 201);
  std::string id = created["id"];
  EXPECT_EQ(id.rfind("sch_", 0), 0u) << id;
  EXPECT_EQ(created["name"], "nightly");
  EXPECT_EQ(created["cron"], "0 2 * * *");
  EXPECT_EQ(created["timezone"], "Europe/Berlin");
  EXPECT_EQ(created["cooldown_s"], 3600);
  EXPECT_EQ(created["job"]["command"], json({"echo", "refresh"}));
  EXPECT_EQ(created["job"]["name"], "nightly");  // jobs are named after the schedule
  EXPECT_TRUE(created["next_run_at"].is_string());
  EXPECT_TRUE(created["last_run_at"].is_null());
  EXPECT_TRUE(created["last_job_id"].is_null());
  EXPECT_EQ(created["paused"], false);

  // Listings show the normalized cron.
  user.post("/api/v1/schedules",
            {{"name", "weekly"}, {"cron", "@weekly"}, {"job", {{"script", "true"}}}}, 201);
  auto listed = user.get("/api/v1/schedules")["schedules"];
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["name"], "nightly");
  EXPECT_EQ(listed[1]["cron"], "0 0 * * 0");
  EXPECT_EQ(listed[1]["timezone"], "UTC");
  EXPECT_EQ(listed[1]["cooldown_s"], 0);

  EXPECT_EQ(user.get("/api/v1/schedules/" + id)["name"], "nightly");
  EXPECT_EQ(user.get("/api/v1/schedules/nightly")["id"], id);  // by name too

  auto paused = user.post("/api/v1/schedules/nightly/pause", json::object());
  EXPECT_EQ(paused["paused"], true);
  EXPECT_EQ(user.post("/api/v1/schedules/nightly/resume", json::object())["paused"], false);

  auto conflict = user.request(http::verb::post, "/api/v1/schedules", nightly().dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_NE(conflict.body.find("already exists"), std::string::npos) << conflict.body;

  EXPECT_EQ(user.del("/api/v1/schedules/" + id)["id"], id);
  EXPECT_EQ(user.request(http::verb::get, "/api/v1/schedules/" + id).status, 404);
  EXPECT_EQ(user.get("/api/v1/schedules")["schedules"].size(), 1u);
  // The name is free again.
  user.post("/api/v1/schedules", nightly(), 201);
}

TEST(Schedules, InvalidSchedulesAre422NamingTheField) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  auto expect_422 = [&](json body, const std::string& needle) {
    auto res = user.request(http::verb::post, "/api/v1/schedules", body.dump());
    EXPECT_EQ(res.status, 422) << body.dump() << " -> " << res.body;
    EXPECT_NE(res.body.find(needle), std::string::npos) << res.body;
  };
  auto bad = nightly();
  bad["cron"] = "0 25 * * *";
  expect_422(bad, "field 'cron': cron field 2 (hour) '25': must be 0-23");
  bad = nightly();
  bad["timezone"] = "Europe/Berln";
  expect_422(bad, "field 'timezone': unknown time zone 'Europe/Berln'");
  bad = nightly();
  bad["cooldown_s"] = -5;
  expect_422(bad, "field 'cooldown_s'");
  bad = nightly();
  bad["name"] = "";
  expect_422(bad, "field 'name'");
  bad = nightly();
  bad["job"] = {{"command", {"true"}}, {"priority", 5000}};
  expect_422(bad, "field 'job.priority'");
  bad = nightly();
  bad["jobs"] = bad["job"];
  expect_422(bad, "field 'jobs': unknown field");
  bad = nightly();
  bad.erase("job");
  expect_422(bad, "field 'job': required");
  EXPECT_EQ(user.request(http::verb::post, "/api/v1/schedules", "{not json").status, 400);
  // Runner tokens may not make schedules.
  Api runner(server.url(), create_token(server, "runner"));
  EXPECT_EQ(runner.request(http::verb::post, "/api/v1/schedules", nightly().dump()).status, 403);
}

TEST(Schedules, TenantsNeverSeeEachOthersSchedules) {
  ServerProcess server;
  Api alice(server.url(), create_token(server, "user", "alice"));
  Api bob(server.url(), create_token(server, "user", "bob"));
  std::string id = alice.post("/api/v1/schedules", nightly(), 201)["id"];
  EXPECT_EQ(bob.get("/api/v1/schedules")["schedules"].size(), 0u);
  EXPECT_EQ(bob.request(http::verb::get, "/api/v1/schedules/" + id).status, 404);
  EXPECT_EQ(bob.request(http::verb::get, "/api/v1/schedules/nightly").status, 404);
  EXPECT_EQ(bob.request(http::verb::delete_, "/api/v1/schedules/" + id).status, 404);
  bob.post("/api/v1/schedules", nightly(), 201);  // the same name in another tenant
  EXPECT_EQ(alice.get("/api/v1/schedules")["schedules"].size(), 1u);
  EXPECT_EQ(alice.get("/api/v1/schedules/nightly")["id"], id);
}

TEST(Schedules, CliCreatesListsAndDeletes) {
  ServerProcess server;
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  auto created =
      run_corral({"schedule", "create", "nightly", "--cron", "0 2 * * *", "--timezone",
                  "Europe/Berlin", "--cooldown", "1h", "-l", "linux", "--", "echo", "refresh"},
                 env);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("created nightly"), std::string::npos) << created.out;

  auto table = run_corral({"schedules"}, env);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  auto header_end = table.out.find('\n');
  std::string header = table.out.substr(0, header_end);
  std::string row = table.out.substr(header_end + 1);
  for (auto column : {"NAME", "CRON", "TIMEZONE", "NEXT RUN", "LAST RUN", "LAST JOB"}) {
    EXPECT_NE(header.find(column), std::string::npos) << header;
  }
  EXPECT_EQ(row.find("nightly"), 0u) << table.out;
  // Aligned: each value starts under its column's header.
  EXPECT_EQ(row.find("0 2 * * *"), header.find("CRON")) << table.out;
  EXPECT_EQ(row.find("Europe/Berlin"), header.find("TIMEZONE")) << table.out;

  auto listed = run_corral({"schedules", "--json"}, env);
  ASSERT_EQ(listed.exit_code, 0);
  auto s = json::parse(listed.out)["schedules"].at(0);
  EXPECT_EQ(s["cooldown_s"], 3600);
  EXPECT_EQ(s["job"]["command"], json({"echo", "refresh"}));
  EXPECT_EQ(s["job"]["labels"], json({"linux"}));

  auto bad = run_corral(
      {"schedule", "create", "x", "--cron", "0 2 * * *", "--cooldown", "1w", "--", "true"}, env);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--cooldown"), std::string::npos) << bad.err;
  auto bad_cron =
      run_corral({"schedule", "create", "x", "--cron", "61 * * * *", "--", "true"}, env);
  EXPECT_NE(bad_cron.exit_code, 0);
  EXPECT_NE(bad_cron.err.find("field 'cron'"), std::string::npos) << bad_cron.err;

  auto deleted = run_corral({"schedule", "delete", "nightly"}, env);
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("deleted nightly"), std::string::npos);
  auto missing = run_corral({"schedule", "delete", "nightly"}, env);
  EXPECT_EQ(missing.exit_code, 4);
  EXPECT_NE(missing.err.find("no schedule"), std::string::npos) << missing.err;
}

// The one slow test: cron has minute resolution and the server reads the real clock, so the
// first tick of "* * * * *" comes within 60 s.
TEST(Schedules, EveryMinuteMakesOneJobThatARunnerGetsEndToEnd) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  auto runner = TestRunner::register_with(server, create_token(server, "runner"), {{"name", "r1"}});
  auto created = user.post(
      "/api/v1/schedules",
      {{"name", "minutely"}, {"cron", "* * * * *"}, {"job", {{"command", {"echo", "tick"}}}}}, 201);
  std::string first_tick = created["next_run_at"];

  // A parked claim is woken by the tick's job.
  json claimed;
  ASSERT_TRUE(wait_until(
      [&] {
        claimed = runner.claim(20'000);
        return !claimed["jobs"].empty();
      },
      75s, 0ms));
  ASSERT_EQ(claimed["jobs"].size(), 1u);
  std::string job_id = claimed["jobs"][0]["job_id"];
  EXPECT_EQ(claimed["jobs"][0]["spec"]["name"], "minutely");

  auto s = user.get("/api/v1/schedules/minutely");
  EXPECT_EQ(s["last_job_id"], job_id);
  EXPECT_EQ(s["last_tick_at"], first_tick);
  EXPECT_GT(s["next_run_at"].get<std::string>(), first_tick);
  auto job = user.get("/api/v1/jobs/" + job_id);
  EXPECT_EQ(job["state"], "leased");
  // Exactly one job for the tick.
  auto jobs = user.get("/api/v1/jobs")["jobs"];
  EXPECT_EQ(jobs.size(), 1u);
}

}  // namespace
}  // namespace corral::testing

// Repository mappings and steward fallback with real `corral runner` processes (shell
// executor, real git clones through a URL rewrite) and the real CLI.
#include <fstream>

#include "harness.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

class StewardFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    // Stale after 2 s; a runner counts as offline after 3 s, so an offline runner is stale.
    server_ = std::make_unique<ServerProcess>(
        std::map<std::string, std::string>{{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"},
                                           {"RUNNER_HEARTBEAT_TIMEOUT_MS", "3000"},
                                           {"CORRAL_SWEEP_INTERVAL_MS", "100"},
                                           {"CORRAL_STEWARD_STALE_AFTER_MS", "2000"}});
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
    // https://git.example.com/o/n clones a local repository: runners rewrite the URL.
    git_dir_ = make_temp_dir("corral-steward-git");
    auto repo = git_dir_ / "o" / "n";
    fs::create_directories(repo);
    auto git = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
      auto out = run_command(args, {}, repo);
      ASSERT_TRUE(out.ok());
      ASSERT_EQ(out->exit_code, 0) << out->output;
    };
    git({"init", "-q", "-b", "main"});
    std::ofstream(repo / "owner.txt") << "from o/n\n";
    git({"add", "."});
    git({"commit", "-q", "-m", "first"});
  }
  void TearDown() override {
    runners_.clear();
    server_.reset();
    if (!HasFailure()) fs::remove_all(git_dir_);
  }
  RunnerProcess& start_runner(const std::string& name, const std::string& group) {
    runners_.push_back(std::make_unique<RunnerProcess>(
        *server_, name,
        std::map<std::string, std::string>{
            {"RUNNER_EXECUTOR", "shell"},
            {"RUNNER_GROUP", group},
            {"GIT_CONFIG_COUNT", "1"},
            {"GIT_CONFIG_KEY_0", "url.file://" + git_dir_.string() + "/.insteadOf"},
            {"GIT_CONFIG_VALUE_0", "https://git.example.com/"}}));
    return *runners_.back();
  }
  json repo_job(json extra = json::object()) {
    json spec{{"script", "cat owner.txt"}, {"repo", {{"url", "https://git.example.com/o/n"}}}};
    spec.update(extra);
    return spec;
  }
  std::string ran_on(Api& api, const std::string& id) {
    auto job = wait_for_job(api, id, {"succeeded", "failed", "canceled"}, 60s);
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
    return job["attempts"].empty() ? "" : job["attempts"].back()["runner_name"].get<std::string>();
  }
  std::vector<std::string> cli(std::vector<std::string> args, const std::string& token = "") {
    args.insert(args.end(), {"--server", server_->url(), "--token",
                             token.empty() ? server_->admin_token() : token});
    auto out = run_corral(args);
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return {out.out, out.err};
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  fs::path git_dir_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

TEST_F(StewardFallback, ARepositoryMappingGivesJobsTheirGroupAndARunnerOfThatGroupRunsThem) {
  start_runner("team-box", "team");
  start_runner("other-box", "default");
  EXPECT_NE(cli({"repos", "set", "o/n", "--group", "team"})[0].find("mapped o/n: group team"),
            std::string::npos);
  auto listed = cli({"repos"})[0];
  EXPECT_NE(listed.find("o/n"), std::string::npos) << listed;
  EXPECT_NE(listed.find("team"), std::string::npos) << listed;

  auto submitted = api_->post("/api/v1/jobs", repo_job(), 201);
  EXPECT_EQ(submitted["group"], "team");
  EXPECT_EQ(submitted["group_source"], "repo");
  EXPECT_EQ(submitted["repo_name"], "o/n");
  std::string id = submitted["id"];
  EXPECT_EQ(ran_on(*api_, id), "team-box");
  auto shown = api_->get("/api/v1/jobs/" + id);
  EXPECT_EQ(shown["group"], "team");
  EXPECT_EQ(shown["group_source"], "repo");
  auto log = api_->request(http::verb::get, "/api/v1/jobs/" + id + "/logs");
  EXPECT_NE(log.body.find("from o/n"), std::string::npos) << log.body;

  // A job that names its group keeps it.
  auto own = api_->post("/api/v1/jobs", repo_job({{"group", "default"}}), 201);
  EXPECT_EQ(own["group_source"], "job");
  EXPECT_EQ(ran_on(*api_, own["id"]), "other-box");

  // Bad names and bodies say what is wrong; only admins manage mappings.
  auto bad_name = api_->request(http::verb::put, "/api/v1/repos/o/bad!name", R"({"group":"team"})");
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_NE(bad_name.body.find("repository name 'bad!name' is not valid"), std::string::npos)
      << bad_name.body;
  auto both = api_->request(http::verb::put, "/api/v1/repos/o/n",
                            R"({"steward":{"runner":"a","group":"b"}})");
  EXPECT_EQ(both.status, 422);
  EXPECT_NE(both.body.find("field 'steward'"), std::string::npos) << both.body;
  Api user(server_->url(), create_token(*server_, "user", "default", "alice"));
  EXPECT_EQ(user.request(http::verb::get, "/api/v1/repos").status, 403);

  EXPECT_NE(cli({"repos", "rm", "o/n"})[0].find("removed the mapping of o/n"), std::string::npos);
  EXPECT_EQ(api_->request(http::verb::get, "/api/v1/repos/o/n").status, 404);
  auto unmapped = api_->post("/api/v1/jobs", repo_job(), 201);
  EXPECT_EQ(unmapped["group"], "");
  EXPECT_TRUE(unmapped["group_source"].is_null());
  EXPECT_FALSE(ran_on(*api_, unmapped["id"]).empty());
}

TEST_F(StewardFallback,
       TheStewardTakesTheRepositorysJobsOnlyOnceItsGroupIsStaleAndTheSubmitterAllowsIt) {
  auto& team = start_runner("team-box", "team");
  start_runner("steward-box", "stewards");
  api_->request(http::verb::put, "/api/v1/repos/o/n",
                R"({"group":"team","steward":{"runner":"steward-box"}})");
  ASSERT_EQ(api_->get("/api/v1/repos/o/n")["steward"]["runner"], "steward-box");

  // While the team's runner beats, it runs the repository's jobs, fallback or not.
  EXPECT_EQ(
      ran_on(*api_, api_->post("/api/v1/jobs", repo_job({{"steward_fallback", true}}), 201)["id"]),
      "team-box");

  team.process().kill9();
  ASSERT_TRUE(wait_until(
      [&] { return api_->get("/api/v1/runners/" + team.id())["status"] == "offline"; }, 20s));
  // Older, and not allowed: if the steward could take it, it would take it first.
  std::string refused =
      api_->post("/api/v1/jobs", repo_job({{"steward_fallback", false}}), 201)["id"];
  std::string allowed =
      api_->post("/api/v1/jobs", repo_job({{"steward_fallback", true}}), 201)["id"];
  EXPECT_EQ(ran_on(*api_, allowed), "steward-box");
  auto still = api_->get("/api/v1/jobs/" + refused);
  EXPECT_EQ(still["state"], "queued");
  EXPECT_TRUE(still["attempts"].empty());
  auto why = api_->get("/api/v1/jobs/" + refused + "/why");
  EXPECT_EQ(why["reasons"][0]["code"], "steward_fallback_not_allowed") << why.dump();
  EXPECT_NE(why["summary"].get<std::string>().find("team-box"), std::string::npos) << why.dump();
  EXPECT_NE(
      why["summary"].get<std::string>().find("steward fallback is not allowed by the submitter"),
      std::string::npos);
  auto why_cli = cli({"why", refused})[0];
  EXPECT_NE(why_cli.find("steward runner steward-box could take it"), std::string::npos) << why_cli;

  // A user who allows it in their settings: their jobs that leave it unset go to the steward.
  std::string alice = create_token(*server_, "user", "default", "alice");
  Api alice_api(server_->url(), alice);
  EXPECT_FALSE(alice_api.get("/api/v1/me/settings")["steward_fallback"].get<bool>());
  EXPECT_NE(cli({"settings", "--steward-fallback", "on"}, alice)[0].find("steward fallback: on"),
            std::string::npos);
  EXPECT_TRUE(alice_api.get("/api/v1/me/settings")["steward_fallback"].get<bool>());
  EXPECT_EQ(ran_on(alice_api, alice_api.post("/api/v1/jobs", repo_job(), 201)["id"]),
            "steward-box");
  EXPECT_EQ(api_->get("/api/v1/jobs/" + refused)["state"], "queued");
}

}  // namespace
}  // namespace corral::testing

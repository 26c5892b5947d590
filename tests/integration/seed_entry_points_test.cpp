// Issue 19, the seeds' own entry points: the real `corral runner` started the way ADOS Work
// Runner and Monk CI users start theirs (their variables; Monk CI's positional form), checked
// through the real server's API, and ADOS's GET /api/runners. The shell executor: no
// container is needed to register, and jobs run fast.
#include <signal.h>
#include <unistd.h>

#include <regex>
#include <set>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

class SeedEntryPoints : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>();
    admin_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }

  // `corral runner ARGS...` with these variables added to the test's environment.
  Process& start(const std::vector<std::string>& arguments,
                 const std::map<std::string, std::string>& env) {
    dir_ = make_temp_dir("corral-seed");
    std::vector<std::string> argv{corral_binary(), "runner"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    process_ = std::make_unique<Process>(argv, env, dir_ / "runner.log");
    return *process_;
  }

  // The runner of that name as GET /api/v1/runners shows it, once registered and not offline.
  json wait_registered(const std::string& name) {
    json found;
    bool up = wait_until(
        [&] {
          json listed = admin_->get("/api/v1/runners")["runners"];
          for (const auto& r : listed) {
            if (r["name"] == name && r["status"] != "offline") {
              found = r;
              return true;
            }
          }
          return !process_->running();
        },
        30s, 20ms);
    EXPECT_TRUE(up && !found.is_null()) << "runner " << name << " did not register:\n"
                                        << process_->output();
    return found;
  }

  void TearDown() override {
    process_.reset();
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> admin_;
  fs::path dir_;
  std::unique_ptr<Process> process_;
};

std::string machine_hostname() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

std::set<std::string> seed_label_set(const json& labels) {
  std::set<std::string> out;
  for (const auto& l : labels) out.insert(l.get<std::string>());
  return out;
}

TEST_F(SeedEntryPoints, AdosVariablesAloneRegisterTheRunnerAndGetApiRunnersAnswersAdosShape) {
  fs::path workspace = make_temp_dir("corral-ados-ws") / "work";  // the runner makes it
  start({}, {{"ADOS_API_URL", server_->url()},
             {"ADOS_TOKEN", create_token(*server_, "runner", "default", "ados")},
             {"ADOS_RUNNER_ID", "ados-runner-1"},
             {"WORKSPACE_DIR", workspace.string()},
             {"ADOS_MODE", "ci"},
             {"ADOS_GROUP", "gpu"},
             {"ADOS_CPUS", "1.5"},
             {"ADOS_MEMORY", "512m"},
             {"ADOS_HOSTNAME", "ados-host.example"},
             {"ADOS_TENANT_ID", "default"},
             {"RUNNER_EXECUTOR", "shell"}});
  json runner = wait_registered("ados-runner-1");
  ASSERT_FALSE(runner.is_null());
  EXPECT_EQ(runner["group"], "gpu");
  EXPECT_EQ(runner["modes"], json::array({"ci"}));
  EXPECT_EQ(runner["system"]["hostname"], "ados-host.example");
  EXPECT_EQ(runner["capabilities"]["executor"], "shell");
  EXPECT_EQ(runner["capabilities"]["policy"]["cpus"], 1.5);
  EXPECT_EQ(runner["capabilities"]["policy"]["memory_bytes"], 512 * 1024 * 1024);

  // It takes the jobs its group and mode say, in WORKSPACE_DIR.
  Api user(server_->url(), create_token(*server_, "user"));
  auto submitted = user.post(
      "/api/v1/jobs", {{"script", "echo \"in $PWD\""}, {"group", "gpu"}, {"type", "ci"}}, 201);
  std::string job_id = submitted["id"];
  auto job = wait_for_job(user, job_id, {"succeeded", "failed"}, 30s);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  auto log = user.request(http::verb::get, "/api/v1/jobs/" + job_id + "/logs");
  EXPECT_NE(log.body.find("in " + workspace.string() + "/"), std::string::npos) << log.body;

  // ADOS's list: a bare array of {id, group, status, hostname, cpus, memory, connected_at}.
  json ados = user.get("/api/runners");
  ASSERT_TRUE(ados.is_array()) << ados.dump();
  ASSERT_EQ(ados.size(), 1u) << ados.dump();
  const json& listed = ados[0];
  std::set<std::string> keys;
  for (const auto& item : listed.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"id", "group", "status", "hostname", "cpus", "memory",
                                         "connected_at"}));
  EXPECT_EQ(listed["id"], "ados-runner-1");
  EXPECT_EQ(listed["group"], "gpu");
  EXPECT_TRUE(listed["status"] == "connected" || listed["status"] == "busy") << listed.dump();
  EXPECT_EQ(listed["hostname"], "ados-host.example");
  EXPECT_EQ(listed["cpus"], 1.5);
  EXPECT_EQ(listed["memory"], 512 * 1024 * 1024);
  static const std::regex kRfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  ASSERT_TRUE(listed["connected_at"].is_string()) << listed.dump();
  EXPECT_TRUE(std::regex_match(listed["connected_at"].get<std::string>(), kRfc3339))
      << listed.dump();
  EXPECT_EQ(listed["connected_at"], runner["registered_at"]);
  EXPECT_EQ(admin_->get("/api/runners"), ados);  // an admin's token sees the same

  // Same auth as GET /api/v1/runners: none is 401, a runner token 403, another tenant sees none.
  Api anonymous(server_->url(), "");
  EXPECT_EQ(anonymous.request(http::verb::get, "/api/runners").status, 401);
  Api runner_token(server_->url(), create_token(*server_, "runner", "default", "other"));
  EXPECT_EQ(runner_token.request(http::verb::get, "/api/runners").status, 403);
  Api other_tenant(server_->url(), create_token(*server_, "user", "globex"));
  EXPECT_EQ(other_tenant.get("/api/runners"), json::array());

  // Stopped, it is offline in ADOS's words too.
  process_->signal(SIGTERM);
  EXPECT_EQ(process_->wait(30s), 0) << process_->output();
  EXPECT_EQ(user.get("/api/runners")[0]["status"], "offline");
  fs::remove_all(workspace.parent_path());
}

TEST_F(SeedEntryPoints, MonkCiPositionalFormRegistersTheRunnerAndBeatsTheEnvironment) {
  std::string token = create_token(*server_, "runner", "default", "monk");
  fs::path workspace = make_temp_dir("corral-monk-ws");
  start({server_->url(), token, "monk-box-1", "builds the docs", "linux,x64", "gpu"},
        {{"RUNNER_NAME", "from-the-environment"},
         {"RUNNER_LABELS", "env-label"},
         {"RUNNER_EXECUTOR", "shell"},
         {"DOCKER_WORKSPACE_BASE", workspace.string()}});
  json runner = wait_registered("monk-box-1");
  ASSERT_FALSE(runner.is_null());
  EXPECT_EQ(runner["description"], "builds the docs");
  EXPECT_EQ(seed_label_set(runner["labels"]), (std::set<std::string>{"linux", "x64", "gpu"}));
  EXPECT_EQ(runner["system"]["hostname"], machine_hostname());
  EXPECT_EQ(admin_->get("/api/v1/runners/" + runner["id"].get<std::string>())["description"],
            "builds the docs");
  json listed = admin_->get("/api/v1/runners")["runners"];
  EXPECT_EQ(listed.size(), 1u) << listed.dump();  // none registered under the environment's name
  process_.reset();
  fs::remove_all(workspace);
}

TEST_F(SeedEntryPoints, MonkCiVariablesRegisterTheRunner) {
  fs::path workspace = make_temp_dir("corral-monk-ws");
  start({}, {{"API_URL", server_->url()},
             {"REGISTRATION_TOKEN", create_token(*server_, "runner", "default", "monk-env")},
             {"RUNNER_NAME", "monk-env-1"},
             {"RUNNER_DESCRIPTION", "from Monk CI's variables"},
             {"RUNNER_LABELS", "arm64,linux"},
             {"RUNNER_EXECUTOR", "shell"},
             {"DOCKER_WORKSPACE_BASE", workspace.string()}});
  json runner = wait_registered("monk-env-1");
  ASSERT_FALSE(runner.is_null());
  EXPECT_EQ(runner["description"], "from Monk CI's variables");
  EXPECT_EQ(seed_label_set(runner["labels"]), (std::set<std::string>{"arm64", "linux"}));
  process_.reset();
  fs::remove_all(workspace);
}

TEST_F(SeedEntryPoints, ABadPositionalFormExits2WithTheUsage) {
  auto only_url = run_corral({"runner", server_->url()}, {{"RUNNER_EXECUTOR", "shell"}});
  EXPECT_EQ(only_url.exit_code, 2) << only_url.err;
  EXPECT_NE(only_url.err.find(
                "usage: corral runner API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]"),
            std::string::npos)
      << only_url.err;
  auto twice = run_corral({"runner", "--name", "a", server_->url(), "crl_x", "b"},
                          {{"RUNNER_EXECUTOR", "shell"}});
  EXPECT_EQ(twice.exit_code, 2) << twice.err;
  EXPECT_NE(twice.err.find("--name and the argument NAME"), std::string::npos) << twice.err;
  EXPECT_TRUE(admin_->get("/api/v1/runners")["runners"].empty());
}

TEST_F(SeedEntryPoints, AWrongAdosTenantIdExits2NamingBothTenants) {
  fs::path workspace = make_temp_dir("corral-ados-ws");
  start({}, {{"ADOS_API_URL", server_->url()},
             {"ADOS_TOKEN", create_token(*server_, "runner", "default", "ados-wrong")},
             {"ADOS_RUNNER_ID", "ados-wrong-tenant"},
             {"ADOS_TENANT_ID", "acme"},
             {"WORKSPACE_DIR", workspace.string()},
             {"RUNNER_EXECUTOR", "shell"}});
  EXPECT_EQ(process_->wait(30s), 2) << process_->output();
  std::string out = process_->output();
  EXPECT_NE(out.find("is 'acme' but the registration token belongs to tenant 'default'"),
            std::string::npos)
      << out;
  // It registered to learn the tenant, then left at once: offline, never taking a job.
  json listed = admin_->get("/api/v1/runners")["runners"];
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["status"], "offline");
  fs::remove_all(workspace);
}

}  // namespace
}  // namespace corral::testing

// `corral resolve` pushing for real (docs/agents.md, "Pushing"): the real server, runner,
// Podman, the agent image's Claude Code against the mock model, whose tool call runs
// `git push` in the job's container, and a git smart-HTTP server over https
// (tests/agent/git-http-server.mjs: `git http-backend` behind node, a self-signed
// certificate) that takes a push only with Basic auth carrying the token. The branch must
// arrive from a resolve job on a runner with RUNNER_AGENT_ALLOW_PUSH, and from nothing else;
// the token must never show in the log, the events or the API.
#include <gtest/gtest.h>

#include <fstream>

#include "agent_fixture.h"
#include "harness.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

constexpr const char* kGithubToken = "ghp_pushTestToken0123456789abcdef";
constexpr const char* kBranch = "corral/mock-push";

CommandOutput must_run(std::vector<std::string> argv, const fs::path& cwd = {}) {
  auto out = run_command(argv, {}, cwd);
  if (!out.ok() || out->exit_code != 0) {
    throw std::runtime_error(argv[0] +
                             " failed: " + (out.ok() ? out->output : out.error().message));
  }
  return *out;
}

// The forge: widget.git with one commit on main (README.md, and ca.pem, the server's own
// certificate, so the job's git can trust it with GIT_SSL_CAINFO=/workspace/ca.pem).
class GitHttpServer {
 public:
  explicit GitHttpServer(const std::string& token) {
    dir_ = make_temp_dir("corral-git-http");
    must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
              (dir_ / "key.pem").string(), "-out", cert().string(), "-subj", "/CN=127.0.0.1",
              "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"});
    fs::create_directories(dir_ / "root");
    must_run({"git", "init", "-q", "--bare", "-b", "main", (dir_ / "root/widget.git").string()});
    fs::path work = dir_ / "work";
    fs::create_directories(work);
    must_run({"git", "init", "-q", "-b", "main"}, work);
    std::ofstream(work / "README.md") << "widget\n";
    fs::copy_file(cert(), work / "ca.pem");
    must_run({"git", "add", "."}, work);
    must_run({"git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m",
              "first"},
             work);
    must_run({"git", "push", "-q", (dir_ / "root/widget.git").string(), "main"}, work);
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/env", "node",
            std::string(CORRAL_SOURCE_DIR) + "/tests/agent/git-http-server.mjs", "--root",
            (dir_ / "root").string(), "--cert", cert().string(), "--key",
            (dir_ / "key.pem").string(), "--token", token},
        std::map<std::string, std::string>{}, dir_ / "server.log");
    bool up = wait_until(
        [&] {
          return process_->output().find("PORT=") != std::string::npos || !process_->running();
        },
        20s);
    std::string out = process_->output();
    auto at = out.find("PORT=");
    if (!up || at == std::string::npos)
      throw std::runtime_error("the git server did not start: " + out);
    port_ = std::stoi(out.substr(at + 5));
  }
  ~GitHttpServer() {
    process_.reset();
    fs::remove_all(dir_);
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string repo_url() const { return "https://" + host() + "/widget.git"; }
  fs::path cert() const { return dir_ / "cert.pem"; }
  // The commit `branch` points at in the served repository; "" when there is no such branch.
  std::string branch_head(const std::string& branch) const {
    auto out = run_command({"git", "rev-parse", "--verify", "-q", "refs/heads/" + branch}, {},
                           dir_ / "root/widget.git");
    return out.ok() && out->exit_code == 0 ? out->output : "";
  }
  // The push requests the server saw: [{path, user, authorized}].
  json pushes() const {
    auto out =
        must_run({"curl", "-sS", "--cacert", cert().string(), "https://" + host() + "/_auth"});
    return json::parse(out.output);
  }
  int authorized_pushes() const {
    int n = 0;
    for (const auto& p : pushes()) n += p["authorized"].get<bool>() ? 1 : 0;
    return n;
  }
  std::string log() const { return process_->output(); }

 private:
  fs::path dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

class AgentPushTest : public AgentJobTest {
 protected:
  void SetUp() override {
    AgentJobTest::SetUp();
    if (IsSkipped()) return;
    git_ = std::make_unique<GitHttpServer>(kGithubToken);
    prompt_ = make_temp_dir("corral-push-prompt") / "prompt.txt";
    std::ofstream(prompt_) << "[mock:tool:push] Fix issue #{number} of {repo}.";
  }
  void TearDown() override {
    AgentJobTest::TearDown();
    git_.reset();
    if (!prompt_.empty()) fs::remove_all(prompt_.parent_path());
  }
  // A runner holding the token; its own git (the clone) trusts the test's certificate.
  RunnerProcess& runner(const std::string& name, bool allow_push) {
    std::map<std::string, std::string> env{{"GITHUB_TOKEN", kGithubToken},
                                           {"RUNNER_GIT_HOSTS", git_->host()},
                                           {"GIT_SSL_CAINFO", git_->cert().string()}};
    if (allow_push) env["RUNNER_AGENT_ALLOW_PUSH"] = "1";
    return start_runner(name, env);
  }
  // `corral resolve` of an issue of acme/widget, cloned from the test's forge.
  std::string resolve() {
    auto out = run_corral({"resolve", "https://github.com/acme/widget/issues/7", "--repo-url",
                           git_->repo_url(), "--prompt-file", prompt_.string(), "--cli", "claude",
                           "-e", "GIT_SSL_CAINFO=/workspace/ca.pem", "--timeout", "120", "--json",
                           "--server", server_->url(), "--token", server_->admin_token()});
    EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
    return json::parse(out.out)["id"];
  }
  // The same agent job with another type.
  std::string submit_typed(const std::string& type) {
    json spec = agent_job("claude", "[mock:tool:push] Review the change.");
    spec["type"] = type;
    spec["repo"] = {{"url", git_->repo_url()}};
    spec["agent"]["allowed_tools"] = {"Bash"};
    spec["env"] = {{"GIT_SSL_CAINFO", "/workspace/ca.pem"}};
    return submit(spec);
  }
  // Whatever a user can read of the job: the token is in none of it.
  void expect_no_token(const std::string& id) {
    std::string log = log_of(id);
    EXPECT_EQ(log.find(kGithubToken), std::string::npos) << log;
    EXPECT_EQ(log.find("***"), std::string::npos) << "nothing had to be masked: " << log;
    auto events = api_->request(http::verb::get, "/api/v1/jobs/" + id + "/events");
    EXPECT_EQ(events.status, 200);
    EXPECT_EQ(events.body.find(kGithubToken), std::string::npos);
    EXPECT_EQ(api_->get("/api/v1/jobs/" + id).dump().find(kGithubToken), std::string::npos);
    EXPECT_EQ(api_->get("/api/v1/runners").dump().find(kGithubToken), std::string::npos);
  }

  std::unique_ptr<GitHttpServer> git_;
  fs::path prompt_;
};

TEST_F(AgentPushTest, AResolveJobOnARunnerThatAllowsItPushesItsBranch) {
  runner("pusher", true);

  // Another type of job on the same runner gets no credential: git's own refusal.
  std::string review = submit_typed("review");
  auto reviewed = wait_for_job(*api_, review, {"succeeded", "failed"}, 120s);
  std::string review_log = log_of(review);
  ASSERT_EQ(reviewed["state"], "succeeded") << review_log << "\n" << runners_[0]->log();
  EXPECT_NE(review_log.find("> Bash: git checkout -q -b corral/mock-push"), std::string::npos)
      << review_log;
  EXPECT_NE(review_log.find("could not read Username"), std::string::npos) << review_log;
  EXPECT_NE(review_log.find("push-exit=128"), std::string::npos) << review_log;
  EXPECT_EQ(git_->branch_head(kBranch), "");
  EXPECT_EQ(git_->authorized_pushes(), 0) << git_->pushes();
  expect_no_token(review);

  // The resolve job: the branch arrives, pushed with the runner's token.
  std::string id = resolve();
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log << "\n" << runners_[0]->log() << "\n" << git_->log();
  EXPECT_EQ(job["spec"]["type"], "resolve");
  EXPECT_NE(log.find("push-exit=0"), std::string::npos) << log;
  EXPECT_NE(log.find("[new branch]"), std::string::npos) << log;
  EXPECT_NE(log.find("git-config-clean"), std::string::npos) << log;
  EXPECT_NE(git_->branch_head(kBranch), "") << git_->log();
  bool as_token = false;
  for (const auto& p : git_->pushes()) {
    if (p["authorized"].get<bool>() && p["user"] == "x-access-token") as_token = true;
  }
  EXPECT_TRUE(as_token) << git_->pushes();
  expect_no_token(id);
}

TEST_F(AgentPushTest, WithoutTheSettingAResolveJobCannotPush) {
  runner("no-push", false);
  std::string id = resolve();
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log << "\n" << runners_[0]->log();
  EXPECT_NE(log.find("> Bash: git checkout -q -b corral/mock-push"), std::string::npos) << log;
  // git's own error: it has no credential to offer the server's challenge.
  EXPECT_NE(log.find("could not read Username for 'https://" + git_->host() + "'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("push-exit=128"), std::string::npos) << log;
  EXPECT_EQ(git_->branch_head(kBranch), "");
  EXPECT_EQ(git_->authorized_pushes(), 0) << git_->pushes();
  EXPECT_FALSE(git_->pushes().empty()) << "the push was tried, and refused";
  expect_no_token(id);
}

}  // namespace
}  // namespace corral::testing

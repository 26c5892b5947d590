// Agent jobs end to end (docs/agents.md): the real `corral` server and runner, Podman, the
// agent image with the real Claude Code and Codex CLIs from npm (scripts/make-agent-image.sh),
// and the mock model server (tests/agent/mock-model.mjs) both CLIs talk to instead of a
// model service. Nothing here leaves the machine.
#include <gtest/gtest.h>

#include <fstream>

#include "agent_fixture.h"
#include "harness.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

// A local repository with one commit and a pull request head at refs/pull/1/head.
fs::path make_repo_with_pull_request() {
  auto repo = make_temp_dir("corral-agent-repo");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
    auto out = run_command(args, {}, repo);
    if (!out.ok() || out->exit_code != 0)
      throw std::runtime_error("git failed: " + (out.ok() ? out->output : ""));
  };
  git({"init", "-q", "-b", "main"});
  std::ofstream(repo / "README.md") << "widget\n";
  git({"add", "."});
  git({"commit", "-q", "-m", "first"});
  git({"checkout", "-q", "-b", "feature"});
  std::ofstream(repo / "feature.txt") << "the pull request's change\n";
  git({"add", "."});
  git({"commit", "-q", "-m", "feature"});
  git({"update-ref", "refs/pull/1/head", "HEAD"});
  git({"checkout", "-q", "main"});
  return repo;
}

TEST_F(AgentJobTest, ClaudeReviewSucceedsWithItsResultEventsAndAReadableLog) {
  start_runner("claude-runner");
  auto repo = make_repo_with_pull_request();
  json spec = agent_job("claude", "[mock:ok] Review this change.");
  spec["type"] = "review";
  spec["repo"] = {{"url", "file://" + repo.string()}, {"ref", "refs/pull/1/head"}};
  std::string id = submit(spec);
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log << "\n" << runners_[0]->log() << "\n" << mock_->log();

  const json& agent = job["result"]["agent"];
  EXPECT_EQ(agent["cli"], "claude");
  EXPECT_NE(agent["final_text"].get<std::string>().find("mock review"), std::string::npos) << agent;
  EXPECT_GT(agent["cost_usd"].get<double>(), 0) << agent;
  EXPECT_GT(agent["input_tokens"].get<int64_t>(), 0) << agent;
  EXPECT_GT(agent["output_tokens"].get<int64_t>(), 0) << agent;
  EXPECT_GE(agent["num_turns"].get<int>(), 1) << agent;
  EXPECT_GT(agent["duration_ms"].get<int64_t>(), 0) << agent;
  EXPECT_FALSE(agent["session_id"].get<std::string>().empty()) << agent;
  EXPECT_FALSE(agent["model"].get<std::string>().empty()) << agent;

  // The log reads as the agent's work, not as JSON; the key never shows.
  EXPECT_NE(log.find("agent: Claude Code"), std::string::npos) << log;
  EXPECT_NE(log.find("mock review"), std::string::npos) << log;
  EXPECT_NE(log.find("agent: finished"), std::string::npos) << log;
  EXPECT_EQ(log.find("{\"type\""), std::string::npos) << log;
  EXPECT_EQ(log.find(kAnthropicKey), std::string::npos);

  // The raw events are kept beside the log.
  auto events = api_->request(http::verb::get, "/api/v1/jobs/" + id + "/events");
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_NE(events.body.find("\"type\":\"result\""), std::string::npos) << events.body;
  EXPECT_NE(events.body.find("\"subtype\":\"init\""), std::string::npos);
  EXPECT_EQ(events.body.find(kAnthropicKey), std::string::npos);

  // The model service saw the runner's key: the credential reached the container.
  bool keyed = false;
  const json seen = mock_->requests();
  for (const auto& r : seen) {
    if (r.dump().find(kAnthropicKey) != std::string::npos) keyed = true;
  }
  EXPECT_TRUE(keyed) << mock_->requests().dump();
  // ... and no API answer shows it.
  EXPECT_EQ(api_->get("/api/v1/jobs/" + id).dump().find(kAnthropicKey), std::string::npos);
  EXPECT_EQ(api_->get("/api/v1/runners").dump().find(kAnthropicKey), std::string::npos);
  fs::remove_all(repo);
}

TEST_F(AgentJobTest, AToolCallShowsOnOneLineAndAResultFileIsMergedIn) {
  start_runner("tools");
  json spec = agent_job("claude", "[mock:tool:findings] Look around.");
  spec["agent"]["allowed_tools"] = {"Bash"};  // the call writes a file: allowed explicitly
  std::string id = submit(spec);
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log << "\n" << mock_->log();
  EXPECT_NE(log.find("> Bash: "), std::string::npos) << log;
  EXPECT_EQ(log.find("{\"type\""), std::string::npos) << log;
  // The mock's tool call writes .corral/result.json; it is kept beside result.agent.
  ASSERT_TRUE(job["result"].contains("findings")) << job["result"];
  EXPECT_EQ(job["result"]["findings"][0]["message"], "mock finding");
  EXPECT_EQ(job["result"]["agent"]["cli"], "claude");
}

TEST_F(AgentJobTest, AnOverloadedApiIsTransientAndRetriedAfterItsBackoff) {
  start_runner("retries");
  json spec = agent_job("claude", "[mock:overloaded-once:r1] Review.");
  spec["max_attempts"] = 2;
  spec["retry"] = {{"backoff_s", {1}}};
  std::string id = submit(spec);
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 180s);
  ASSERT_EQ(job["state"], "succeeded") << log_of(id) << "\n" << job.dump(2);
  ASSERT_EQ(job["attempts"].size(), 2u) << job.dump(2);
  EXPECT_EQ(job["attempts"][0]["state"], "failed");
  EXPECT_EQ(job["attempts"][0]["reason"], "transient") << job.dump(2);
  EXPECT_EQ(job["result"]["agent"]["cli"], "claude");
}

TEST_F(AgentJobTest, ABadKeyFailsAtOnceWithTheClisOwnMessage) {
  start_runner("badkey");
  std::string id = submit(agent_job("claude", "[mock:unauthorized] Review."));
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "failed") << log;
  EXPECT_EQ(job["reason"], "agent") << job.dump(2);
  EXPECT_EQ(job["attempts"].size(), 1u) << "an authentication error is not retried";
  EXPECT_NE(log.find("claude failed: "), std::string::npos) << log;
}

TEST_F(AgentJobTest, AnImageWithoutTheCliFailsAtOnceSayingSo) {
  start_runner("nocli");
  json spec = agent_job("auto", "Review.");
  spec["image"] = kTestImage;  // busybox: neither CLI
  std::string id = submit(spec);
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 60s);
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "failed");
  EXPECT_EQ(job["reason"], "agent");
  EXPECT_EQ(job["attempts"].size(), 1u);
  EXPECT_NE(log.find("neither claude (Claude Code) nor codex is installed"), std::string::npos)
      << log;
  EXPECT_EQ(api_->request(http::verb::get, "/api/v1/jobs/" + id + "/events").status, 404);
}

// The analysis and resolve prompts tell the agent to use gh or the forge's API: both tools
// run in the image (their libraries came along).
TEST_F(AgentJobTest, TheImageHasTheToolsThePromptsName) {
  start_runner("tools");
  std::string id = submit(
      {{"image", kAgentImage},
       {"script", "curl --version | head -n 1 && gh --version | head -n 1 && git --version"}});
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 60s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("curl 7."), std::string::npos) << log;
  EXPECT_NE(log.find("gh version 2."), std::string::npos) << log;
  EXPECT_NE(log.find("git version 2."), std::string::npos) << log;
}

TEST_F(AgentJobTest, CodexRunsAndReportsItsTokens) {
  start_runner("codex-runner", {{"RUNNER_AGENT_CLI", "codex"}});
  // auto, with the runner's choice: codex although the image has claude too.
  std::string id = submit(agent_job("auto", "[mock:ok] Review this change."));
  auto job = wait_for_job(*api_, id, {"succeeded", "failed"}, 120s);
  std::string log = log_of(id);
  ASSERT_EQ(job["state"], "succeeded") << log << "\n" << mock_->log();
  const json& agent = job["result"]["agent"];
  EXPECT_EQ(agent["cli"], "codex");
  EXPECT_NE(agent["final_text"].get<std::string>().find("mock review"), std::string::npos) << agent;
  EXPECT_GT(agent["output_tokens"].get<int64_t>(), 0) << agent;
  EXPECT_FALSE(agent["session_id"].get<std::string>().empty()) << agent;
  EXPECT_TRUE(agent["cost_usd"].is_null());
  EXPECT_NE(log.find("agent: Codex"), std::string::npos) << log;
  EXPECT_EQ(log.find(kOpenAiKey), std::string::npos);
}

TEST_F(AgentJobTest, CorralReviewClonesThePullRequestHead) {
  start_runner("reviewer");
  auto repo = make_repo_with_pull_request();
  auto user = create_token(*server_, "user");
  fs::path prompt = repo.parent_path() / (repo.filename().string() + "-prompt.txt");
  std::ofstream(prompt) << "[mock:ok] Review {repo} #{number}; the change is in feature.txt.";
  auto out = run_corral({"review", "https://github.com/acme/widget/pull/1", "--repo-url",
                         "file://" + repo.string(), "--prompt-file", prompt.string(), "--cli",
                         "claude", "--server", server_->url(), "--token", user, "--follow"});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("mock review"), std::string::npos) << out.out;
  Api api(server_->url(), user);
  auto jobs = api.get("/api/v1/jobs");
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  const json& job = jobs["jobs"][0];
  EXPECT_EQ(job["spec"]["type"], "review");
  EXPECT_EQ(job["spec"]["repo"]["ref"], "refs/pull/1/head");
  EXPECT_EQ(job["spec"]["name"], "review acme/widget#1");
  EXPECT_EQ(job["spec"]["agent"]["prompt"],
            "[mock:ok] Review acme/widget #1; the change is in feature.txt.");
  // The clone was the pull request's head: the mock saw the file list? The log says so.
  EXPECT_NE(api.request(http::verb::get, "/api/v1/jobs/" + job["id"].get<std::string>() + "/logs")
                .body.find("refs/pull/1/head"),
            std::string::npos);

  auto bad = run_corral({"review", "https://github.com/acme/widget/issues/1", "--server",
                         server_->url(), "--token", user});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(
      bad.err.find("is not a pull request URL such as https://github.com/OWNER/REPO/pull/123"),
      std::string::npos)
      << bad.err;
  fs::remove_all(repo);
  fs::remove(prompt);
}

}  // namespace
}  // namespace corral::testing

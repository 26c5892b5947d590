// The `agent` field of a job spec and the agent task templates (api/agent_tasks.h): what is
// accepted, and a 422 naming the field for anything else.
#include <gtest/gtest.h>

#include "api/agent_tasks.h"
#include "api/types.h"

namespace corral {
namespace {

std::string spec_error(const json& body) {
  auto parsed = parse_job_spec(body);
  EXPECT_FALSE(parsed.ok()) << body.dump();
  return parsed.ok() ? "" : parsed.error().message;
}

TEST(AgentSpec, ParsesAndRoundTrips) {
  json body{{"agent",
             {{"cli", "codex"},
              {"prompt", "fix it"},
              {"model", "gpt-5-codex"},
              {"max_turns", 5},
              {"allowed_tools", {"Read"}},
              {"args", {"--x"}}}}};
  auto spec = parse_job_spec(body);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  ASSERT_TRUE(spec->agent.has_value());
  EXPECT_EQ(spec->agent->cli, "codex");
  EXPECT_EQ(spec->agent->max_turns, 5);
  auto again = parse_job_spec(to_json(*spec));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(to_json(*again->agent), to_json(*spec->agent));
  // cli defaults to auto.
  EXPECT_EQ(parse_job_spec({{"agent", {{"prompt", "p"}}}})->agent->cli, "auto");
}

TEST(AgentSpec, RefusesWhatIsWrongNamingTheField) {
  EXPECT_NE(spec_error({{"agent", {{"cli", "cursor"}, {"prompt", "p"}}}}).find("agent.cli"),
            std::string::npos);
  EXPECT_NE(spec_error({{"agent", {{"prompt", "  \n"}}}}).find("agent.prompt"), std::string::npos);
  EXPECT_NE(spec_error({{"agent", {{"prompt", "p"}, {"colour", 1}}}}).find("agent.colour"),
            std::string::npos);
  EXPECT_NE(spec_error({{"agent", {{"prompt", "p"}, {"model", "a b"}}}}).find("agent.model"),
            std::string::npos);
  EXPECT_NE(
      spec_error({{"agent", {{"prompt", std::string(100 * 1024 + 1, 'x')}}}}).find("agent.prompt"),
      std::string::npos);
  EXPECT_NE(spec_error({{"agent", "review"}}).find("agent"), std::string::npos);
  EXPECT_NE(spec_error({{"agent", {{"prompt", "p"}}}, {"script", "true"}}).find("not several"),
            std::string::npos);
  EXPECT_NE(spec_error(json::object()).find("'agent'"), std::string::npos);
}

TEST(AgentTasks, ReadsPullRequestIssueAndRepositoryTargets) {
  auto pr = parse_task_url("https://github.com/Acme/Widget/pull/12/files", "pull");
  ASSERT_TRUE(pr.ok()) << pr.error().message;
  EXPECT_EQ(pr->full_name, "acme/widget");
  EXPECT_EQ(pr->number, 12);
  EXPECT_EQ(pr->clone_url, "https://github.com/Acme/Widget.git");
  EXPECT_FALSE(parse_task_url("https://github.com/acme/widget/issues/12", "pull").ok());
  EXPECT_FALSE(parse_task_url("https://github.com/acme/../pull/1", "pull").ok());
  auto issue = parse_task_url("https://git.example.com/a/b/issues/3", "issues");
  ASSERT_TRUE(issue.ok());
  EXPECT_EQ(issue->host, "git.example.com");
  auto repo = parse_repo_target("acme/widget");
  ASSERT_TRUE(repo.ok());
  EXPECT_EQ(repo->clone_url, "https://github.com/acme/widget.git");
  EXPECT_EQ(parse_repo_target("https://github.com/acme/widget.git")->full_name, "acme/widget");
  EXPECT_FALSE(parse_repo_target("widget").ok());
}

TEST(AgentTasks, TemplatesAreValidJobsOfTheirType) {
  auto target = parse_task_url("https://github.com/acme/widget/pull/7", "pull").value();
  for (const char* type : {"review", "analysis-pr", "analysis-issue", "resolve"}) {
    std::string prompt = default_task_prompt(type, target);
    EXPECT_NE(prompt.find("acme/widget"), std::string::npos) << type;
    EXPECT_EQ(prompt.find("{repo}"), std::string::npos) << type;
    auto spec = parse_job_spec(agent_task_spec(type, target, prompt));
    ASSERT_TRUE(spec.ok()) << type << ": " << spec.error().message;
    EXPECT_EQ(spec->type, type);
    EXPECT_EQ(spec->repo->url, "https://github.com/acme/widget.git");
  }
  EXPECT_EQ(parse_job_spec(agent_task_spec("review", target, "p"))->repo->ref, "refs/pull/7/head");
  EXPECT_EQ(fill_task_prompt("{repo}#{number} at {url}", target),
            "acme/widget#7 at https://github.com/acme/widget");
}

}  // namespace
}  // namespace corral

#include <gtest/gtest.h>

#include <string>

#include "workflow/triggers.h"
#include "workflow_examples.h"

namespace corral::workflow {
namespace {

// docs.github.com, "Workflow syntax", "Filter pattern cheat sheet": each pattern with the
// names and paths the page says it matches, and a few it does not.
TEST(WorkflowTriggersTest, GitHubCheatSheetBranchesAndTags) {
  EXPECT_TRUE(filter_pattern_matches("feature/*", "feature/my-branch"));
  EXPECT_FALSE(filter_pattern_matches("feature/*", "feature/beta-a/my-branch"));
  EXPECT_TRUE(filter_pattern_matches("feature/**", "feature/beta-a/my-branch"));
  EXPECT_TRUE(filter_pattern_matches("feature/**", "feature/mona/the/octocat"));
  EXPECT_TRUE(filter_pattern_matches("main", "main"));
  EXPECT_FALSE(filter_pattern_matches("main", "main2"));
  EXPECT_TRUE(filter_pattern_matches("*", "releases"));
  EXPECT_FALSE(filter_pattern_matches("*", "releases/10"));
  EXPECT_TRUE(filter_pattern_matches("**", "releases/10/x"));
  EXPECT_TRUE(filter_pattern_matches("*feature", "mona-feature"));
  EXPECT_TRUE(filter_pattern_matches("*feature", "feature"));
  EXPECT_TRUE(filter_pattern_matches("v2*", "v2.9"));
  EXPECT_TRUE(filter_pattern_matches("v[12].[0-9]+.[0-9]+", "v1.10.1"));
  EXPECT_TRUE(filter_pattern_matches("v[12].[0-9]+.[0-9]+", "v2.0.0"));
  EXPECT_FALSE(filter_pattern_matches("v[12].[0-9]+.[0-9]+", "v3.0.0"));
  EXPECT_FALSE(filter_pattern_matches("v[12].[0-9]+.[0-9]+", "v1x0.0"));  // . is literal
}

TEST(WorkflowTriggersTest, GitHubCheatSheetPaths) {
  EXPECT_TRUE(filter_pattern_matches("*", "README.md"));
  EXPECT_FALSE(filter_pattern_matches("*", "docs/README.md"));
  EXPECT_TRUE(filter_pattern_matches("*.jsx?", "page.js"));
  EXPECT_TRUE(filter_pattern_matches("*.jsx?", "page.jsx"));
  EXPECT_TRUE(filter_pattern_matches("**.js", "src/js/app.js"));
  EXPECT_TRUE(filter_pattern_matches("docs/*", "docs/file.txt"));
  EXPECT_FALSE(filter_pattern_matches("docs/*", "docs/mona/octocat.txt"));
  EXPECT_TRUE(filter_pattern_matches("docs/**", "docs/mona/octocat.txt"));
  EXPECT_TRUE(filter_pattern_matches("docs/**/*.md", "docs/README.md"));
  EXPECT_TRUE(filter_pattern_matches("docs/**/*.md", "docs/a/markdown/file.md"));
  EXPECT_TRUE(filter_pattern_matches("**/docs/**", "docs/hello.md"));
  EXPECT_TRUE(filter_pattern_matches("**/docs/**", "space/docs/plan/space.doc"));
  EXPECT_TRUE(filter_pattern_matches("**/README.md", "README.md"));
  EXPECT_TRUE(filter_pattern_matches("**/README.md", "js/README.md"));
  EXPECT_TRUE(filter_pattern_matches("**/*src/**", "my-src/code/js/app.js"));
  EXPECT_TRUE(filter_pattern_matches("**/*-post.md", "path/their-post.md"));
  EXPECT_TRUE(filter_pattern_matches("**/migrate-*.sql", "migrate-10909.sql"));
  EXPECT_TRUE(filter_pattern_matches("**/migrate-*.sql", "db/sept/migrate-v1.sql"));
  EXPECT_FALSE(filter_pattern_matches("**/migrate-*.sql", "db/migrate-v1.sqlx"));
}

TEST(WorkflowTriggersTest, ExclusionsInOrder) {
  std::vector<std::string> md = {"*.md", "!README.md"};
  EXPECT_TRUE(filters_match(md, "hello.md"));
  EXPECT_FALSE(filters_match(md, "README.md"));
  EXPECT_FALSE(filters_match(md, "docs/hello.md"));
  md.push_back("README*");
  EXPECT_TRUE(filters_match(md, "README.md"));
  EXPECT_TRUE(filters_match(md, "README.doc"));

  std::vector<std::string> releases = {"releases/**", "!releases/**-alpha"};
  EXPECT_TRUE(filters_match(releases, "releases/10"));
  EXPECT_TRUE(filters_match(releases, "releases/beta/mona"));
  EXPECT_FALSE(filters_match(releases, "releases/10-alpha"));
  EXPECT_FALSE(filters_match({}, "main"));
}

Triggers triggers_of(const std::string& on_yaml) {
  auto wf =
      parse_workflow("on:\n" + on_yaml + "jobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n");
  EXPECT_TRUE(wf.ok()) << (wf.ok() ? "" : wf.error().message);
  return wf.ok() ? wf->on : Triggers{};
}

TEST(WorkflowTriggersTest, PushFilters) {
  Triggers any = triggers_of("  push:\n");
  EXPECT_TRUE(push_triggers(any, "refs/heads/dev", {}));
  EXPECT_TRUE(push_triggers(any, "refs/tags/v1", {}));

  Triggers node_ci = parse_workflow(examples::kNodeCi)->on;
  EXPECT_TRUE(push_triggers(node_ci, "refs/heads/main", {"a"}));
  EXPECT_FALSE(push_triggers(node_ci, "refs/heads/dev", {"a"}));
  EXPECT_FALSE(push_triggers(node_ci, "refs/tags/v1", {}));  // branches only: no tags

  Triggers tags = triggers_of("  push:\n    tags: ['v*']\n");
  EXPECT_TRUE(push_triggers(tags, "refs/tags/v1.2", {}));
  EXPECT_FALSE(push_triggers(tags, "refs/tags/nightly", {}));
  EXPECT_FALSE(push_triggers(tags, "refs/heads/main", {}));  // tags only: no branches

  Triggers paths = triggers_of(
      "  push:\n    branches: [main]\n    tags: ['v*']\n    paths: ['src/**', '!src/**/*.md']\n");
  EXPECT_TRUE(push_triggers(paths, "refs/heads/main", {"README.md", "src/a/b.cpp"}));
  EXPECT_FALSE(push_triggers(paths, "refs/heads/main", {"README.md", "src/a/notes.md"}));
  EXPECT_FALSE(push_triggers(paths, "refs/heads/main", {}));
  EXPECT_TRUE(push_triggers(paths, "refs/tags/v2", {}));  // tags skip the paths filter

  EXPECT_FALSE(push_triggers(triggers_of("  pull_request:\n"), "refs/heads/main", {}));
}

TEST(WorkflowTriggersTest, PullRequestFilters) {
  Triggers node_ci = parse_workflow(examples::kNodeCi)->on;
  EXPECT_TRUE(pull_request_triggers(node_ci, "main", "opened"));
  EXPECT_TRUE(pull_request_triggers(node_ci, "main", "synchronize"));
  EXPECT_FALSE(pull_request_triggers(node_ci, "main", "closed"));  // not a default type
  EXPECT_FALSE(pull_request_triggers(node_ci, "dev", "opened"));

  Triggers closed = triggers_of("  pull_request:\n    types: [closed]\n");
  EXPECT_TRUE(pull_request_triggers(closed, "anything", "closed"));
  EXPECT_FALSE(pull_request_triggers(closed, "anything", "opened"));
  EXPECT_FALSE(pull_request_triggers(triggers_of("  push:\n"), "main", "opened"));
}

}  // namespace
}  // namespace corral::workflow

// The agent task types corral's users came with (oversight's and the AI Review seeds'): each
// is a job template with a `type`, so runner modes and groups apply to it as to any job.
//
//   review          one pull request: clone, fetch refs/pull/N/head, review the change
//   analysis-pr     the repository's open pull requests, repository-wide
//   analysis-issue  the repository's open issues, repository-wide
//   resolve         one issue: make the fix on a branch and push it (needs a write
//                   credential the runner holds; docs/agents.md)
//
// `corral review URL`, `corral analyze prs|issues REPO`, `corral resolve URL` and the nightly
// refresh of stewarded repositories (server/steward.h) all build their jobs here.
#pragma once

#include <optional>
#include <string>

#include "api/types.h"

namespace corral {

// What a task is about, read from a forge URL such as https://github.com/o/r/pull/7.
struct TaskTarget {
  std::string host;       // "github.com"
  std::string full_name;  // "owner/repo"
  int number = 0;         // the pull request or issue; 0 = the whole repository
  std::string clone_url;  // "https://github.com/owner/repo.git" unless given otherwise
};

// https://HOST/OWNER/REPO/pull/N (kind "pull") or .../issues/N (kind "issues"); an error
// naming what is wrong otherwise.
Result<TaskTarget> parse_task_url(const std::string& url, std::string_view kind);
// OWNER/REPO or https://HOST/OWNER/REPO(.git): the whole repository.
Result<TaskTarget> parse_repo_target(const std::string& text);

// The built-in prompt of a task type, with {repo}, {number}, {url} filled in.
std::string default_task_prompt(std::string_view type, const TaskTarget& target);
// Fills {repo}, {number} and {url} in a user's own prompt.
std::string fill_task_prompt(std::string prompt, const TaskTarget& target);

// The job spec (as submitted: JSON) of a task: type, name, repo, agent. The caller adds
// labels, group, image and the rest.
json agent_task_spec(std::string_view type, const TaskTarget& target, const std::string& prompt,
                     const std::string& cli = "auto");

}  // namespace corral

// Repository mappings: an admin's per-repository defaults (docs/api.md, "Repositories"). A job
// whose repo maps here and that names no group gets the mapping's group; the mapping's
// steward may take the repository's jobs when every runner that could is stale
// (server/steward.h).
#pragma once

#include <optional>
#include <string>

#include "api/types.h"

namespace corral {

struct RepoMapping {
  std::string tenant;
  std::string full_name;       // "owner/name", lower case
  std::string group;           // "" = jobs keep their own (or no) group
  std::string steward_runner;  // a runner's name in the tenant, or ""
  std::string steward_group;   // a runner group, or ""; at most one of the two is set
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  std::string updated_by;  // token id of the admin who set it
  std::string
      clone_url;  // where the nightly refresh clones from ("" = https://github.com/NAME.git)
  TimeMs last_auto_refresh_at = 0;  // the last nightly refresh queued (server/nightly_refresh.h)
  // The secret GitHub signs its webhook deliveries with (X-Hub-Signature-256), "" = none.
  // Never shown by the API (webhook_secret_set says whether there is one).
  std::string webhook_secret;
  bool webhook_secret_given = false;  // a PUT that set (or cleared) it; otherwise it is kept

  bool has_steward() const { return !steward_runner.empty() || !steward_group.empty(); }
};
json to_json(const RepoMapping& repo);

// "owner/name" in lower case when both parts are valid repository names (letters, digits,
// '.', '_', '-'; not "." or ".."; at most 100 characters each), else an error that says so.
Result<std::string> normalize_repo_full_name(const std::string& owner, const std::string& name);

// The body of PUT /api/v1/repos/{owner}/{name}: {group, steward: {runner} | {group} | null,
// url?, tenant?}. Fills group and steward of `out`; errors are 422 naming the field.
Result<void> parse_repo_mapping_body(const json& body, RepoMapping& out);

// The "owner/name" a clone URL points at, lower case: https://host/o/n(.git),
// ssh://git@host(:port)/o/n.git, git@host:o/n.git, git://host/o/n. Local paths and file://
// URLs, and URLs without two path segments, name no repository: nullopt. For deeper paths
// (GitLab subgroups) the last two segments count.
std::optional<std::string> repo_full_name_from_url(const std::string& url);

// Where a job's group came from, shown as the job's group_source.
inline constexpr const char* kGroupFromJob = "job";
inline constexpr const char* kGroupFromRepo = "repo";

// Records the job's repository (Job::repo_name) and, when the job names no group and the
// mapping has one, gives it the mapping's group. `repo` is the mapping of that repository,
// if any.
void apply_repo_mapping(Job& job, const RepoMapping* repo);

}  // namespace corral

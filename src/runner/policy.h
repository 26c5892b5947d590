// What a job may ask of this runner. A job can only tighten isolation (docs/security.md,
// "Runner hardening"): its network must be on DOCKER_ALLOWED_NETWORKS, its image on
// DOCKER_ALLOWED_IMAGES, its repository a remote URL unless RUNNER_ALLOW_LOCAL_REPOS.
// Memory, CPU and pids are never a question of policy: a job asking for more than the
// runner's limits simply gets the runner's limits (executor.cpp, container_spec).
//
// A refusal fails the job at once with reason `policy` (never retried: retrying cannot
// change the runner's settings) and a message naming the setting the operator would change.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "runner/config.h"

namespace corral {

// How a repository URL reaches git.
enum class RepoUrlKind {
  kRemote,   // https://, http://, ssh://, git://, or scp-like user@host:path
  kLocal,    // file:// or a path on the runner's host
  kRefused,  // an option in disguise ("-..."), a remote helper ("ext::..."), another scheme
};
RepoUrlKind classify_repo_url(const std::string& url);

// The scheme and host[:port] of a remote URL, lower case ("https", "git.example.com");
// empty strings for anything else (scp-like URLs are "ssh").
struct RepoUrlHost {
  std::string scheme;
  std::string host;
};
RepoUrlHost repo_url_host(const std::string& url);

// nullopt when the runner takes the job as it is; else why not, naming the setting.
std::optional<std::string> policy_refusal(const RunnerConfig& config, const JobSpec& spec);

// Where an agent job may push with the runner's GITHUB_TOKEN ("host" or "host:port", over
// https): RUNNER_GIT_HOSTS, else github.com, for a job of type `resolve` on a runner with
// RUNNER_AGENT_ALLOW_PUSH that holds a GITHUB_TOKEN; nowhere (empty) for any other job.
std::vector<std::string> agent_push_hosts(const RunnerConfig& config, const JobSpec& spec);

// The runner's policy as shown in its registration `capabilities.policy`.
json policy_json(const RunnerConfig& config);

}  // namespace corral

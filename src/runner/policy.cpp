#include "runner/policy.h"

#include <fnmatch.h>

#include <algorithm>

#include "common/redact.h"

namespace corral {

namespace {

bool policy_glob_match(const std::vector<std::string>& patterns, const std::string& value) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    return fnmatch(p.c_str(), value.c_str(), 0) == 0;
  });
}

std::string policy_list_text(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ",") + item;
  return out.empty() ? "(empty)" : out;
}

std::string policy_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

RepoUrlKind classify_repo_url(const std::string& url) {
  if (url.empty() || url[0] == '-') return RepoUrlKind::kRefused;
  if (url.find_first_of("\n\r") != std::string::npos) return RepoUrlKind::kRefused;
  auto scheme_end = url.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = policy_lower(url.substr(0, scheme_end));
    if (scheme == "file") return RepoUrlKind::kLocal;
    for (const char* ok : {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}) {
      if (scheme == ok) return RepoUrlKind::kRemote;
    }
    return RepoUrlKind::kRefused;
  }
  // "<transport>::<address>" runs a remote helper (ext:: runs any command).
  if (url.find("::") != std::string::npos) return RepoUrlKind::kRefused;
  // git's rule: a colon before the first slash is scp-like ssh ("git@host:o/n.git").
  auto colon = url.find(':');
  auto slash = url.find('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash))
    return RepoUrlKind::kRemote;
  return RepoUrlKind::kLocal;
}

RepoUrlHost repo_url_host(const std::string& url) {
  if (classify_repo_url(url) != RepoUrlKind::kRemote) return {};
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {  // scp-like: [user@]host:path
    std::string host = url.substr(0, url.find(':'));
    if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
    return {"ssh", policy_lower(host)};
  }
  std::string rest = url.substr(scheme_end + 3);
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  return {policy_lower(url.substr(0, scheme_end)), policy_lower(authority)};
}

std::optional<std::string> policy_refusal(const RunnerConfig& config, const JobSpec& spec) {
  if (!spec.network.empty() && spec.network != config.docker_network_mode &&
      !policy_glob_match(config.allowed_networks, spec.network)) {
    return "network '" + spec.network +
           "' is not allowed on this runner (DOCKER_ALLOWED_NETWORKS=" +
           policy_list_text(config.allowed_networks) +
           "); its operator may add it to DOCKER_ALLOWED_NETWORKS";
  }
  if (!spec.image.empty() && spec.image != config.docker_image && !config.allowed_images.empty() &&
      !policy_glob_match(config.allowed_images, spec.image)) {
    return "image '" + spec.image + "' is not allowed on this runner (DOCKER_ALLOWED_IMAGES=" +
           policy_list_text(config.allowed_images) +
           "); its operator may add it to DOCKER_ALLOWED_IMAGES";
  }
  if (spec.repo) {
    const auto& repo = *spec.repo;
    switch (classify_repo_url(repo.url)) {
      case RepoUrlKind::kRemote:
        break;
      case RepoUrlKind::kLocal:
        if (!config.allow_local_repos) {
          return "repository '" + without_userinfo(repo.url) +
                 "' is a local path or file:// URL, which this runner does not clone "
                 "(RUNNER_ALLOW_LOCAL_REPOS=false); "
                 "use an https or ssh URL, or its operator may set RUNNER_ALLOW_LOCAL_REPOS=true";
        }
        break;
      case RepoUrlKind::kRefused:
        return "repository URL '" + without_userinfo(repo.url) +
               "' is not an https, http, ssh or git URL; other transports are refused";
    }
    for (const auto* value : {&repo.ref, &repo.sha}) {
      if (!value->empty() && (*value)[0] == '-')
        return "repository ref '" + *value + "' may not start with '-'";
    }
  }
  return std::nullopt;
}

std::vector<std::string> agent_push_hosts(const RunnerConfig& config, const JobSpec& spec) {
  if (!spec.agent || spec.type != "resolve" || !config.agent_allow_push) return {};
  auto token = config.agent_env.find("GITHUB_TOKEN");
  if (token == config.agent_env.end() || token->second.empty()) return {};
  if (!config.git_hosts.empty()) return config.git_hosts;
  return {"github.com"};
}

json policy_json(const RunnerConfig& config) {
  return {{"allowed_networks", config.allowed_networks},
          {"default_network", config.docker_network_mode},
          {"allowed_images",
           config.allowed_images.empty() ? std::vector<std::string>{"*"} : config.allowed_images},
          {"memory_bytes", config.docker_memory_bytes},
          {"cpus", config.docker_cpus},
          {"pids_limit", config.pids_limit},
          {"user", config.docker_user},
          {"read_only_rootfs", config.read_only_rootfs},
          {"git_hosts", config.git_hosts},
          {"allow_local_repos", config.allow_local_repos},
          {"clone_timeout_s", config.clone_timeout_s},
          {"log_max_bytes", config.log_max_bytes},
          {"agent_allow_push", config.agent_allow_push}};
}

}  // namespace corral

// Runner configuration. Settings are named by their environment variable (the names are a
// compatibility contract, see docs/runner.md); each can also come from the config file
// (`--config`, YAML: the same names, or kebab-case without the RUNNER_ prefix) and from a
// flag (kebab-case without the RUNNER_ prefix, e.g. --server-url, --docker-memory-limit).
// Precedence: file < environment < flags. Everything is validated at start; a bad value
// stops the runner with a message naming the setting.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runner/transient.h"
#include "runtime/container_runtime.h"

namespace corral {

struct RunnerConfig {
  static constexpr int64_t kDefaultMemoryBytes = int64_t{4} * 1024 * 1024 * 1024;  // 4g

  std::string server_url;                 // RUNNER_SERVER_URL (required)
  std::string token;                      // RUNNER_TOKEN (required): a runner registration token
  std::string name;                       // RUNNER_NAME (required)
  std::string description;                // RUNNER_DESCRIPTION: free text shown with the runner
  std::vector<std::string> labels;        // RUNNER_LABELS, comma list
  std::string group = "default";          // RUNNER_GROUP
  std::vector<std::string> modes{"all"};  // RUNNER_MODES, comma list
  std::string hostname;  // RUNNER_HOSTNAME: reported as system.hostname ("" = the machine's)
  // RUNNER_TENANT: the tenant the registration token must belong to ("" = any); another
  // stops the runner (exit 2) right after registering.
  std::string tenant;
  bool owner_only = false;      // RUNNER_OWNER_ONLY: take only jobs of the user who made the token
  int max_concurrent_jobs = 1;  // RUNNER_MAX_CONCURRENT_JOBS
  int clone_depth = 50;         // RUNNER_CLONE_DEPTH (0 = full history)
  int poll_interval_ms = 1000;  // RUNNER_POLL_INTERVAL_MS: pause after an empty/failed poll
  int poll_timeout_ms = 30000;  // RUNNER_POLL_TIMEOUT_MS: long-poll wait
  int heartbeat_interval_ms = 0;    // RUNNER_HEARTBEAT_INTERVAL_MS (0 = what the server says)
  int request_timeout_ms = 30000;   // RUNNER_REQUEST_TIMEOUT_MS
  std::string executor = "docker";  // RUNNER_EXECUTOR / --executor: docker | shell
  std::string docker_image;         // DOCKER_EXECUTOR_IMAGE (required for docker)
  // DOCKER_MEMORY_LIMIT, e.g. 512m; "unlimited" = 0 (no limit). A job may ask for less.
  int64_t docker_memory_bytes = kDefaultMemoryBytes;
  // DOCKER_CPU_LIMIT, e.g. 1.5; default the host's CPU count; "unlimited" = 0.
  double docker_cpus = 0;
  std::string docker_network_mode;  // DOCKER_NETWORK_MODE ("" = engine default)
  // DOCKER_ALLOWED_NETWORKS, comma list of glob patterns: what a job's `network` may name.
  // DOCKER_NETWORK_MODE is always allowed (the operator chose it for every job).
  std::vector<std::string> allowed_networks{"none", "bridge"};
  // DOCKER_ALLOWED_IMAGES, comma list of glob patterns (fnmatch) for a job's `image`;
  // empty = any image. DOCKER_EXECUTOR_IMAGE is always allowed.
  std::vector<std::string> allowed_images;
  std::string docker_user;        // DOCKER_USER: "uid[:gid]" or a name; "" = the image's user
  bool read_only_rootfs = false;  // DOCKER_READ_ONLY_ROOTFS: read-only / with a tmpfs /tmp
  std::string workspace_base = "/var/lib/corral/workspaces";  // DOCKER_WORKSPACE_BASE
  int docker_timeout_s = 3600;  // DOCKER_TIMEOUT_SECONDS: job timeout when the job sets none
  int docker_pool_size = 0;     // DOCKER_POOL_SIZE: warm containers (runner/warm_pool.h)
  // RUNNER_METRICS_LISTEN, host:port: where the runner serves GET /metrics; "" = nowhere.
  std::string metrics_listen;
  std::string docker_host;  // DOCKER_HOST: unix:///path or tcp://host:port
  PullPolicy pull_policy = PullPolicy::kIfNotPresent;  // DOCKER_PULL_POLICY
  int64_t pids_limit = 1024;                           // DOCKER_PIDS_LIMIT ("unlimited" = 0)
  int drain_timeout_s = 600;                           // RUNNER_DRAIN_TIMEOUT_S / --drain-timeout
  // RUNNER_UPDATE_DEADLINE_S: after an update, how long the new binary has to register
  // before the previous one is put back (runner/self_update.h).
  int update_deadline_s = 120;
  int stop_grace_s = 10;  // RUNNER_STOP_GRACE_S: SIGTERM -> SIGKILL on cancel/timeout
  std::string git_token;  // RUNNER_GIT_TOKEN: credentials for clones (env only)
  // RUNNER_GIT_HOSTS, comma list of "host" or "host:port": the only hosts git credentials
  // (RUNNER_GIT_TOKEN, a job's CORRAL_GIT_TOKEN) are given to, and only over https.
  std::vector<std::string> git_hosts;
  bool allow_local_repos = false;  // RUNNER_ALLOW_LOCAL_REPOS: file:// URLs and local paths
  int clone_timeout_s = 600;       // RUNNER_CLONE_TIMEOUT_S: a clone taking longer is killed
  // RUNNER_REPO_CACHE (alias OVERSIGHT_REPO_DIR): where the repository mirrors live
  // (runner/repo_cache.h); default DOCKER_WORKSPACE_BASE/.repos; "" after "off" = no cache,
  // every attempt clones from scratch.
  std::string repo_cache_dir;
  // RUNNER_REPO_CACHE_MAX, e.g. 10g: least recently used mirrors are removed past it;
  // "unlimited" = 0.
  int64_t repo_cache_max_bytes = int64_t{10} * 1024 * 1024 * 1024;
  // RUNNER_MIN_FREE_DISK, e.g. 1g: below this much free space under DOCKER_WORKSPACE_BASE the
  // runner is in state `error` ("disk full") and takes no jobs; 0 = no check.
  int64_t min_free_disk_bytes = int64_t{1} * 1024 * 1024 * 1024;
  // RUNNER_LOG_MAX_BYTES: the most of a job's output spooled and sent (the server's default
  // --log-max-bytes); past it one line says so and the rest is dropped.
  int64_t log_max_bytes = int64_t{64} * 1024 * 1024;
  // RUNNER_TRANSIENT_PATTERNS, comma list: failures whose output tail or engine error
  // mentions one are reported `transient` (retried by the default retry policy).
  std::vector<std::string> transient_patterns = default_transient_patterns();
  // Agent jobs (docs/agents.md, runner/agent_cli.h).
  std::string agent_cli;  // RUNNER_AGENT_CLI (alias OVERSIGHT_CLI): claude | codex; "" = auto
  std::string
      agent_image;  // RUNNER_AGENT_IMAGE: agent jobs' default image ("" = DOCKER_EXECUTOR_IMAGE)
  // The credentials agent containers get, from the runner's environment only:
  // agent_credential_names() and the names RUNNER_AGENT_ENV lists. Never sent to the
  // server; the values are masked in logs when the name looks secret (looks_secret).
  std::map<std::string, std::string> agent_env;
  // RUNNER_AGENT_ALLOW_PUSH: resolve jobs may push with the runner's GITHUB_TOKEN (a git
  // credential helper for the RUNNER_GIT_HOSTS, default github.com, in their container).
  // Off: no agent job gets a git credential, and resolve jobs get no GITHUB_TOKEN at all.
  bool agent_allow_push = false;
};

// ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, OPENAI_API_KEY, GITHUB_TOKEN and the two
// base URLs: what an agent job gets from the runner's environment.
const std::vector<std::string>& agent_credential_names();
// A name such as *_KEY or *_TOKEN, whose value the log must never show.
bool looks_secret(std::string_view name);
// runner_settings_from_environment() keeps the agent credentials under this prefix.
inline const std::string kAgentEnvPrefix = "agent-env:";

// Every setting's environment name, in the order shown by `corral runner --help`.
const std::vector<std::string>& runner_setting_names();
// "RUNNER_SERVER_URL" -> "server-url", "DOCKER_MEMORY_LIMIT" -> "docker-memory-limit".
std::string setting_flag_name(const std::string& env_name);

// The required settings the layers (merged as build_runner_config merges them) leave unset
// or empty, in the order `corral runner --help` shows them: RUNNER_SERVER_URL, RUNNER_TOKEN,
// RUNNER_NAME, and DOCKER_EXECUTOR_IMAGE when the executor is docker.
std::vector<std::string> missing_runner_settings(const std::map<std::string, std::string>& file,
                                                 const std::map<std::string, std::string>& env,
                                                 const std::map<std::string, std::string>& flags);
// Merges the layers (each a map from setting name to raw text) and validates. Missing
// required settings are named all at once, one per line.
Result<RunnerConfig> build_runner_config(const std::map<std::string, std::string>& file,
                                         const std::map<std::string, std::string>& env,
                                         const std::map<std::string, std::string>& flags);
// Reads a YAML config file into setting names (accepting either spelling).
Result<std::map<std::string, std::string>> read_runner_config_file(const std::string& path);
// The same from the file's text; `source` names it in errors.
Result<std::map<std::string, std::string>> parse_runner_config(std::string_view yaml_text,
                                                               const std::string& source);
// The settings present in this process's environment, aliases (runner/setting_aliases.h)
// resolved: a setting's own name wins over its aliases.
std::map<std::string, std::string> runner_settings_from_environment();
// The same from the given variables (NAME -> value).
std::map<std::string, std::string> runner_settings_from(
    const std::map<std::string, std::string>& environment);

}  // namespace corral

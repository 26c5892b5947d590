#include "runner/config.h"

#include <unistd.h>  // environ

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/numbers.h"
#include "common/settings_file.h"
#include "common/units.h"
#include "net/endpoint.h"
#include "runner/setting_aliases.h"

namespace corral {

namespace {
std::vector<std::string> split_list(const std::string& text);
}  // namespace

const std::vector<std::string>& runner_setting_names() {
  static const std::vector<std::string> kNames = {"RUNNER_SERVER_URL",
                                                  "RUNNER_TOKEN",
                                                  "RUNNER_NAME",
                                                  "RUNNER_DESCRIPTION",
                                                  "RUNNER_LABELS",
                                                  "RUNNER_GROUP",
                                                  "RUNNER_MODES",
                                                  "RUNNER_HOSTNAME",
                                                  "RUNNER_TENANT",
                                                  "RUNNER_MAX_CONCURRENT_JOBS",
                                                  "RUNNER_CLONE_DEPTH",
                                                  "RUNNER_POLL_INTERVAL_MS",
                                                  "RUNNER_POLL_TIMEOUT_MS",
                                                  "RUNNER_HEARTBEAT_INTERVAL_MS",
                                                  "RUNNER_REQUEST_TIMEOUT_MS",
                                                  "RUNNER_EXECUTOR",
                                                  "DOCKER_EXECUTOR_IMAGE",
                                                  "DOCKER_MEMORY_LIMIT",
                                                  "DOCKER_CPU_LIMIT",
                                                  "DOCKER_NETWORK_MODE",
                                                  "DOCKER_WORKSPACE_BASE",
                                                  "DOCKER_TIMEOUT_SECONDS",
                                                  "DOCKER_POOL_SIZE",
                                                  "DOCKER_HOST",
                                                  "DOCKER_PULL_POLICY",
                                                  "DOCKER_PIDS_LIMIT",
                                                  "RUNNER_DRAIN_TIMEOUT_S",
                                                  "RUNNER_UPDATE_DEADLINE_S",
                                                  "RUNNER_STOP_GRACE_S",
                                                  "RUNNER_GIT_TOKEN",
                                                  "RUNNER_TRANSIENT_PATTERNS",
                                                  "RUNNER_OWNER_ONLY",
                                                  "DOCKER_ALLOWED_NETWORKS",
                                                  "DOCKER_ALLOWED_IMAGES",
                                                  "DOCKER_USER",
                                                  "DOCKER_READ_ONLY_ROOTFS",
                                                  "RUNNER_GIT_HOSTS",
                                                  "RUNNER_ALLOW_LOCAL_REPOS",
                                                  "RUNNER_CLONE_TIMEOUT_S",
                                                  "RUNNER_REPO_CACHE",
                                                  "RUNNER_REPO_CACHE_MAX",
                                                  "RUNNER_MIN_FREE_DISK",
                                                  "RUNNER_LOG_MAX_BYTES",
                                                  "RUNNER_AGENT_CLI",
                                                  "RUNNER_AGENT_IMAGE",
                                                  "RUNNER_AGENT_ENV",
                                                  "RUNNER_AGENT_ALLOW_PUSH",
                                                  "RUNNER_METRICS_LISTEN"};
  return kNames;
}

const std::vector<std::string>& agent_credential_names() {
  static const std::vector<std::string> kNames = {"ANTHROPIC_API_KEY",  "CLAUDE_CODE_OAUTH_TOKEN",
                                                  "OPENAI_API_KEY",     "GITHUB_TOKEN",
                                                  "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"};
  return kNames;
}

bool looks_secret(std::string_view name) {
  for (std::string_view word : {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return false;
}

std::string setting_flag_name(const std::string& env_name) {
  std::string name = env_name;
  if (name.rfind("RUNNER_", 0) == 0) name = name.substr(7);
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return name;
}

std::map<std::string, std::string> runner_settings_from_environment() {
  std::map<std::string, std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos)
      environment.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return runner_settings_from(environment);
}

std::map<std::string, std::string> runner_settings_from(
    const std::map<std::string, std::string>& environment) {
  auto lookup = [&](const std::string& name) -> const std::string* {
    auto it = environment.find(name);
    return it == environment.end() ? nullptr : &it->second;
  };
  std::map<std::string, std::string> out;
  for (const auto& name : runner_setting_names()) {
    if (const auto* v = lookup(name)) out[name] = *v;
  }
  // Other systems' names (oversight, ADOS Work Runner, Monk CI): a setting's own name wins.
  for (const auto& a : runner_setting_aliases()) {
    if (const auto* v = lookup(a.alias); v && !out.count(a.setting)) {
      out[a.setting] = *v;
      out[kAliasSourcePrefix + a.setting] = a.alias;
    }
  }
  // What agent containers get from the runner's environment (and nothing else does).
  std::vector<std::string> names = agent_credential_names();
  if (auto it = out.find("RUNNER_AGENT_ENV"); it != out.end()) {
    for (const auto& name : split_list(it->second)) names.push_back(name);
  }
  for (const auto& name : names) {
    if (const auto* v = lookup(name); v && !v->empty()) out[kAgentEnvPrefix + name] = *v;
  }
  return out;
}

// The runner's settings as a settings file names them (common/settings_file.h).
std::vector<KnownSetting> known_runner_settings() {
  std::vector<KnownSetting> known;
  for (const auto& name : runner_setting_names()) known.push_back({name, setting_flag_name(name)});
  return known;
}

Result<std::map<std::string, std::string>> parse_runner_config(std::string_view yaml_text,
                                                               const std::string& source) {
  return parse_settings_file(yaml_text, source, known_runner_settings(), "docs/runner.md");
}

Result<std::map<std::string, std::string>> read_runner_config_file(const std::string& path) {
  return read_settings_file(path, known_runner_settings(), "docs/runner.md");
}

namespace {

Error bad(const std::string& name, const std::string& why) {
  return make_error(ErrorCode::kInvalidSpec, name + " (--" + setting_flag_name(name) + "): " + why);
}

Result<int64_t> parse_int(const std::string& name, const std::string& text, int64_t min,
                          int64_t max) {
  if (auto v = parse_number<int64_t>(text); v && *v >= min && *v <= max) return *v;
  return bad(name, "'" + text + "' is not a whole number between " + std::to_string(min) + " and " +
                       std::to_string(max));
}

// "true"/"false" (also 1/0, yes/no, any case; empty = false).
Result<bool> parse_bool(const std::string& name, const std::string& text) {
  std::string v = text;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no" || v.empty()) return false;
  return bad(name, "must be true or false, not '" + text + "'");
}

bool is_unlimited(const std::string& text) {
  return text == "unlimited";
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
  }
  return out;
}

// RUNNER_DESCRIPTION, RUNNER_HOSTNAME and RUNNER_TENANT: text the registration carries or
// checks (ADOS Work Runner's and Monk CI's settings, runner/setting_aliases.h).
Result<void> read_registration_extras(std::map<std::string, std::string>& s, RunnerConfig& c) {
  auto one_line = [&](const char* name, size_t max_len, std::string& target) -> Result<void> {
    auto it = s.find(name);
    if (it == s.end()) return {};
    if (it->second.size() > max_len) {
      return bad(name, "is longer than " + std::to_string(max_len) + " characters");
    }
    for (unsigned char ch : it->second) {
      if (ch < 0x20 || ch == 0x7f)
        return bad(name, "must be one line of text, without control characters");
    }
    target = it->second;
    return {};
  };
  CORRAL_TRY(one_line("RUNNER_DESCRIPTION", 1024, c.description));
  CORRAL_TRY(one_line("RUNNER_HOSTNAME", 256, c.hostname));
  CORRAL_TRY(one_line("RUNNER_TENANT", 63, c.tenant));
  static const std::regex kTenantName("[a-z0-9][a-z0-9_-]{0,62}");
  if (!c.tenant.empty() && !std::regex_match(c.tenant, kTenantName)) {
    return bad("RUNNER_TENANT",
               "'" + c.tenant +
                   "' is not a tenant name (1-63 lower-case letters, digits, _ or -, "
                   "as `corral tokens` shows them)");
  }
  return {};
}

}  // namespace

std::vector<std::string> missing_runner_settings(const std::map<std::string, std::string>& file,
                                                 const std::map<std::string, std::string>& env,
                                                 const std::map<std::string, std::string>& flags) {
  auto value = [&](const std::string& name) -> std::string {
    for (const auto* layer : {&flags, &env, &file}) {
      if (auto it = layer->find(name); it != layer->end()) return it->second;
    }
    return "";
  };
  std::vector<std::string> missing;
  for (const char* required : {"RUNNER_SERVER_URL", "RUNNER_TOKEN", "RUNNER_NAME"}) {
    if (value(required).empty()) missing.push_back(required);
  }
  bool docker = value("RUNNER_EXECUTOR").empty() || value("RUNNER_EXECUTOR") == "docker";
  if (docker && value("DOCKER_EXECUTOR_IMAGE").empty()) missing.push_back("DOCKER_EXECUTOR_IMAGE");
  return missing;
}

// build_runner_config() without naming aliases in its errors.
static Result<RunnerConfig> merge_runner_settings(const std::map<std::string, std::string>& file,
                                                  const std::map<std::string, std::string>& env,
                                                  const std::map<std::string, std::string>& flags) {
  std::map<std::string, std::string> s = file;
  for (const auto& [k, v] : env) s[k] = v;
  for (const auto& [k, v] : flags) s[k] = v;
  auto has = [&](const char* k) { return s.count(k) > 0; };
  RunnerConfig c;

  // Every missing setting at once: one round of fixing, not one per setting.
  if (auto missing = missing_runner_settings(file, env, flags); !missing.empty()) {
    std::string message;
    for (const auto& name : missing) {
      std::string why =
          name == "DOCKER_EXECUTOR_IMAGE"
              ? "is required for the docker executor (the image for jobs that name none)"
              : "is required" + alias_hint(name);
      message += (message.empty() ? "" : "\n") + bad(name, why).message;
    }
    return make_error(ErrorCode::kInvalidSpec, message);
  }
  c.server_url = s["RUNNER_SERVER_URL"];
  if (auto ep = Endpoint::parse(c.server_url); !ep.ok())
    return bad("RUNNER_SERVER_URL", ep.error().message);
  c.token = s["RUNNER_TOKEN"];
  c.name = s["RUNNER_NAME"];
  if (has("RUNNER_LABELS")) c.labels = split_list(s["RUNNER_LABELS"]);
  if (has("RUNNER_GROUP") && !s["RUNNER_GROUP"].empty()) c.group = s["RUNNER_GROUP"];
  if (auto seeds = read_registration_extras(s, c); !seeds.ok()) return seeds.error();
  struct BoolSetting {
    const char* name;
    bool* target;
  };
  for (const auto& bs :
       std::initializer_list<BoolSetting>{{"RUNNER_OWNER_ONLY", &c.owner_only},
                                          {"DOCKER_READ_ONLY_ROOTFS", &c.read_only_rootfs},
                                          {"RUNNER_ALLOW_LOCAL_REPOS", &c.allow_local_repos},
                                          {"RUNNER_AGENT_ALLOW_PUSH", &c.agent_allow_push}}) {
    if (!has(bs.name)) continue;
    auto v = parse_bool(bs.name, s[bs.name]);
    if (!v.ok()) return v.error();
    *bs.target = *v;
  }
  if (has("RUNNER_TRANSIENT_PATTERNS"))
    c.transient_patterns = split_list(s["RUNNER_TRANSIENT_PATTERNS"]);
  if (has("RUNNER_MODES")) {
    c.modes = split_list(s["RUNNER_MODES"]);
    if (c.modes.empty()) c.modes = {"all"};
  }
  struct IntSetting {
    const char* name;
    int* target;
    int64_t min, max;
  };
  for (const auto& is : std::initializer_list<IntSetting>{
           {"RUNNER_MAX_CONCURRENT_JOBS", &c.max_concurrent_jobs, 1, 1024},
           {"RUNNER_CLONE_DEPTH", &c.clone_depth, 0, 1'000'000},
           {"RUNNER_POLL_INTERVAL_MS", &c.poll_interval_ms, 10, 3'600'000},
           {"RUNNER_POLL_TIMEOUT_MS", &c.poll_timeout_ms, 0, 60'000},
           {"RUNNER_HEARTBEAT_INTERVAL_MS", &c.heartbeat_interval_ms, 50, 3'600'000},
           {"RUNNER_REQUEST_TIMEOUT_MS", &c.request_timeout_ms, 100, 600'000},
           {"DOCKER_TIMEOUT_SECONDS", &c.docker_timeout_s, 1, 30 * 24 * 3600},
           {"DOCKER_POOL_SIZE", &c.docker_pool_size, 0, 256},
           {"RUNNER_DRAIN_TIMEOUT_S", &c.drain_timeout_s, 0, 7 * 24 * 3600},
           {"RUNNER_UPDATE_DEADLINE_S", &c.update_deadline_s, 1, 24 * 3600},
           {"RUNNER_STOP_GRACE_S", &c.stop_grace_s, 0, 3600},
           {"RUNNER_CLONE_TIMEOUT_S", &c.clone_timeout_s, 1, 7 * 24 * 3600}}) {
    if (!has(is.name)) continue;
    auto v = parse_int(is.name, s[is.name], is.min, is.max);
    if (!v.ok()) return v.error();
    *is.target = static_cast<int>(*v);
  }
  // A limit is never switched off by accident: 0 is refused, "unlimited" says so.
  if (has("DOCKER_PIDS_LIMIT") && is_unlimited(s["DOCKER_PIDS_LIMIT"])) {
    c.pids_limit = 0;
  } else if (has("DOCKER_PIDS_LIMIT")) {
    auto v = parse_int("DOCKER_PIDS_LIMIT", s["DOCKER_PIDS_LIMIT"], 1, 1 << 22);
    if (!v.ok())
      return bad("DOCKER_PIDS_LIMIT",
                 v.error().message.substr(v.error().message.find(": ") + 2) + " (or 'unlimited')");
    c.pids_limit = *v;
  }
  if (has("RUNNER_EXECUTOR")) c.executor = s["RUNNER_EXECUTOR"];
  if (c.executor != "docker" && c.executor != "shell") {
    return bad("RUNNER_EXECUTOR", "must be docker or shell, not '" + c.executor + "'");
  }
  if (has("DOCKER_EXECUTOR_IMAGE")) c.docker_image = s["DOCKER_EXECUTOR_IMAGE"];
  if (c.executor == "docker" && c.docker_image.empty()) {
    return bad("DOCKER_EXECUTOR_IMAGE",
               "is required for the docker executor (the image for jobs that name none)");
  }
  if (has("DOCKER_MEMORY_LIMIT") && is_unlimited(s["DOCKER_MEMORY_LIMIT"])) {
    c.docker_memory_bytes = 0;
  } else if (has("DOCKER_MEMORY_LIMIT") && !s["DOCKER_MEMORY_LIMIT"].empty()) {
    auto bytes = parse_bytes(s["DOCKER_MEMORY_LIMIT"]);
    if (!bytes.ok()) return bad("DOCKER_MEMORY_LIMIT", bytes.error().message);
    if (*bytes < 6 * 1024 * 1024)
      return bad("DOCKER_MEMORY_LIMIT", "must be at least 6m (or 'unlimited')");
    c.docker_memory_bytes = *bytes;
  }
  c.docker_cpus = std::max(1u, std::thread::hardware_concurrency());
  if (has("DOCKER_CPU_LIMIT") && is_unlimited(s["DOCKER_CPU_LIMIT"])) {
    c.docker_cpus = 0;
  } else if (has("DOCKER_CPU_LIMIT") && !s["DOCKER_CPU_LIMIT"].empty()) {
    auto cpus = parse_number<double>(s["DOCKER_CPU_LIMIT"]);
    if (!cpus || !(*cpus > 0) || *cpus > 1024) {
      return bad("DOCKER_CPU_LIMIT",
                 "'" + s["DOCKER_CPU_LIMIT"] + "' is not a CPU count such as 1.5 (or 'unlimited')");
    }
    c.docker_cpus = *cpus;
  }
  if (has("DOCKER_NETWORK_MODE")) c.docker_network_mode = s["DOCKER_NETWORK_MODE"];
  if (has("DOCKER_WORKSPACE_BASE") && !s["DOCKER_WORKSPACE_BASE"].empty())
    c.workspace_base = s["DOCKER_WORKSPACE_BASE"];
  if (c.workspace_base.empty() || c.workspace_base[0] != '/') {
    return bad("DOCKER_WORKSPACE_BASE", "must be an absolute path");
  }
  c.repo_cache_dir = c.workspace_base + "/.repos";
  if (has("RUNNER_REPO_CACHE") && !s["RUNNER_REPO_CACHE"].empty()) {
    const std::string& dir = s["RUNNER_REPO_CACHE"];
    if (dir == "off") {
      c.repo_cache_dir.clear();
    } else if (dir[0] != '/') {
      return bad("RUNNER_REPO_CACHE", "must be an absolute path, or 'off' to clone every time");
    } else {
      c.repo_cache_dir = dir;
    }
  }
  if (has("RUNNER_REPO_CACHE_MAX") && is_unlimited(s["RUNNER_REPO_CACHE_MAX"])) {
    c.repo_cache_max_bytes = 0;
  } else if (has("RUNNER_REPO_CACHE_MAX") && !s["RUNNER_REPO_CACHE_MAX"].empty()) {
    auto bytes = parse_bytes(s["RUNNER_REPO_CACHE_MAX"]);
    if (!bytes.ok())
      return bad("RUNNER_REPO_CACHE_MAX", bytes.error().message + " (or 'unlimited')");
    if (*bytes < 1024 * 1024)
      return bad("RUNNER_REPO_CACHE_MAX", "must be at least 1m (or 'unlimited')");
    c.repo_cache_max_bytes = *bytes;
  }
  if (has("RUNNER_MIN_FREE_DISK") && !s["RUNNER_MIN_FREE_DISK"].empty()) {
    auto bytes = parse_bytes(s["RUNNER_MIN_FREE_DISK"]);
    if (!bytes.ok()) return bad("RUNNER_MIN_FREE_DISK", bytes.error().message + " (0 = no check)");
    c.min_free_disk_bytes = *bytes;
  }
  if (has("RUNNER_METRICS_LISTEN") && !s["RUNNER_METRICS_LISTEN"].empty()) {
    const std::string& listen = s["RUNNER_METRICS_LISTEN"];
    auto colon = listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos && colon > 0) {
      auto [end, ec] =
          std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
      if (ec != std::errc() || end != listen.data() + listen.size()) port = -1;
    }
    if (port < 0 || port > 65535) {
      return bad(
          "RUNNER_METRICS_LISTEN",
          "'" + listen + "' is not host:port, e.g. 127.0.0.1:9252 (port 0 picks a free one)");
    }
    c.metrics_listen = listen;
  }
  c.docker_host = has("DOCKER_HOST") ? s["DOCKER_HOST"] : "unix:///var/run/docker.sock";
  if (c.executor == "docker") {
    if (auto ep = Endpoint::parse(c.docker_host); !ep.ok())
      return bad("DOCKER_HOST", ep.error().message);
  }
  if (has("DOCKER_PULL_POLICY")) {
    auto p = parse_pull_policy(s["DOCKER_PULL_POLICY"]);
    if (!p.ok()) return bad("DOCKER_PULL_POLICY", p.error().message);
    c.pull_policy = *p;
  }
  if (has("RUNNER_GIT_TOKEN")) c.git_token = s["RUNNER_GIT_TOKEN"];
  if (has("DOCKER_ALLOWED_NETWORKS")) c.allowed_networks = split_list(s["DOCKER_ALLOWED_NETWORKS"]);
  if (has("DOCKER_ALLOWED_IMAGES")) c.allowed_images = split_list(s["DOCKER_ALLOWED_IMAGES"]);
  if (has("DOCKER_USER")) {
    static const std::regex kUser(R"([A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?)");
    c.docker_user = s["DOCKER_USER"];
    if (!c.docker_user.empty() && !std::regex_match(c.docker_user, kUser)) {
      return bad("DOCKER_USER",
                 "'" + c.docker_user + "' is not a user such as 1000:1000 or 'builder'");
    }
  }
  if (has("RUNNER_GIT_HOSTS")) {
    static const std::regex kHost(R"([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?)");
    c.git_hosts = split_list(s["RUNNER_GIT_HOSTS"]);
    for (const auto& host : c.git_hosts) {
      if (!std::regex_match(host, kHost)) {
        return bad("RUNNER_GIT_HOSTS",
                   "'" + host + "' is not a host name such as github.com or git.internal:8443");
      }
    }
  }
  if (has("RUNNER_AGENT_CLI")) {
    c.agent_cli = s["RUNNER_AGENT_CLI"];
    if (!c.agent_cli.empty() && c.agent_cli != "claude" && c.agent_cli != "codex" &&
        c.agent_cli != "auto") {
      return bad("RUNNER_AGENT_CLI", "must be claude, codex or auto, not '" + c.agent_cli + "'");
    }
    if (c.agent_cli == "auto") c.agent_cli.clear();
  }
  if (has("RUNNER_AGENT_IMAGE")) c.agent_image = s["RUNNER_AGENT_IMAGE"];
  if (has("RUNNER_AGENT_ENV")) {
    static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
    for (const auto& name : split_list(s["RUNNER_AGENT_ENV"])) {
      if (!std::regex_match(name, kEnvName)) {
        return bad("RUNNER_AGENT_ENV", "'" + name + "' is not an environment variable name");
      }
    }
  }
  for (const auto& [key, value] : env) {
    if (key.rfind(kAgentEnvPrefix, 0) == 0) c.agent_env[key.substr(kAgentEnvPrefix.size())] = value;
  }
  if (has("RUNNER_LOG_MAX_BYTES")) {
    auto bytes = parse_bytes(s["RUNNER_LOG_MAX_BYTES"]);
    if (!bytes.ok()) return bad("RUNNER_LOG_MAX_BYTES", bytes.error().message);
    if (*bytes < 1024) return bad("RUNNER_LOG_MAX_BYTES", "must be at least 1k");
    c.log_max_bytes = *bytes;
  }
  return c;
}

Result<RunnerConfig> build_runner_config(const std::map<std::string, std::string>& file,
                                         const std::map<std::string, std::string>& env,
                                         const std::map<std::string, std::string>& flags) {
  auto config = merge_runner_settings(file, env, flags);
  if (!config.ok()) return name_alias_source(config.error(), env, flags);
  return config;
}

}  // namespace corral

#include "api/types.h"

#include <algorithm>
#include <regex>
#include <set>

#include "common/redact.h"
#include "common/units.h"

namespace corral {

namespace {

template <typename E, size_t N>
std::optional<E> parse_enum(std::string_view s,
                            const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [e, name] : table) {
    if (name == s) return e;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<TokenKind, std::string_view>, 3> kTokenKinds{
    {{TokenKind::kAdmin, "admin"}, {TokenKind::kUser, "user"}, {TokenKind::kRunner, "runner"}}};
constexpr std::array<std::pair<JobState, std::string_view>, 6> kJobStates{
    {{JobState::kQueued, "queued"},
     {JobState::kLeased, "leased"},
     {JobState::kRunning, "running"},
     {JobState::kSucceeded, "succeeded"},
     {JobState::kFailed, "failed"},
     {JobState::kCanceled, "canceled"}}};
constexpr std::array<std::pair<AttemptState, std::string_view>, 6> kAttemptStates{
    {{AttemptState::kLeased, "leased"},
     {AttemptState::kRunning, "running"},
     {AttemptState::kSucceeded, "succeeded"},
     {AttemptState::kFailed, "failed"},
     {AttemptState::kCanceled, "canceled"},
     {AttemptState::kLost, "lost"}}};

constexpr std::array<std::pair<FailureReason, std::string_view>, 13> kFailureReasons{
    {{FailureReason::kNone, ""},
     {FailureReason::kRunnerLost, "runner_lost"},
     {FailureReason::kTransient, "transient"},
     {FailureReason::kImagePull, "image_pull"},
     {FailureReason::kClone, "clone"},
     {FailureReason::kEngine, "engine"},
     {FailureReason::kOomKilled, "oom_killed"},
     {FailureReason::kTimedOut, "timed_out"},
     {FailureReason::kExitCode, "exit_code"},
     {FailureReason::kAgent, "agent"},
     {FailureReason::kPolicy, "policy"},
     {FailureReason::kCanceled, "canceled"},
     {FailureReason::kOther, "other"}}};

template <typename E, size_t N>
std::string_view enum_name(E e, const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "unknown";
}

Result<std::string> get_string(const json& obj, const char* key, const std::string& path,
                               size_t max_len = 4096) {
  if (!obj.contains(key) || obj[key].is_null()) return std::string();
  if (!obj[key].is_string()) return invalid_field(path, "must be a string");
  auto s = obj[key].get<std::string>();
  if (s.size() > max_len)
    return invalid_field(path, "longer than " + std::to_string(max_len) + " characters");
  return s;
}

Result<int64_t> get_int(const json& obj, const char* key, const std::string& path, int64_t def,
                        int64_t min, int64_t max) {
  if (!obj.contains(key) || obj[key].is_null()) return def;
  const auto& v = obj[key];
  if (!v.is_number_integer()) return invalid_field(path, "must be an integer");
  int64_t n = v.get<int64_t>();
  if (n < min || n > max) {
    return invalid_field(path,
                         "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

Result<std::vector<std::string>> get_string_list(const json& obj, const char* key,
                                                 const std::string& path) {
  std::vector<std::string> out;
  if (!obj.contains(key) || obj[key].is_null()) return out;
  const auto& v = obj[key];
  if (!v.is_array()) return invalid_field(path, "must be an array of strings");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      return invalid_field(path + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> get_labels(const json& obj, const char* key,
                                            const std::string& path) {
  auto list = get_string_list(obj, key, path);
  if (!list.ok()) return list.error();
  static const std::regex kLabel("^[A-Za-z0-9][A-Za-z0-9_.:/=+-]{0,63}$");
  for (const auto& label : *list) {
    if (!std::regex_match(label, kLabel)) {
      return invalid_field(path, "label '" + label +
                                     "' must be 1-64 characters of letters, digits and _.:/=+- "
                                     "starting with a letter or digit");
    }
  }
  return normalize_labels(std::move(list.value()));
}

Result<RetryPolicy> parse_retry_policy(const json& r) {
  if (!r.is_object())
    return invalid_field("retry",
                         "must be an object {max_attempts, backoff_s, on, transient_patterns}");
  CORRAL_TRY(
      check_known_fields(r, "retry.", {"max_attempts", "backoff_s", "on", "transient_patterns"}));
  RetryPolicy policy;
  if (r.contains("backoff_s") && !r["backoff_s"].is_null()) {
    const auto& b = r["backoff_s"];
    if (!b.is_array() || b.empty() || b.size() > 100) {
      return invalid_field("retry.backoff_s",
                           "must be a list of 1 to 100 waits in seconds, e.g. [30, 60, 90]");
    }
    policy.backoff_s.clear();
    for (size_t i = 0; i < b.size(); ++i) {
      if (!b[i].is_number_integer() || b[i].get<int64_t>() < 0 || b[i].get<int64_t>() > 86'400) {
        return invalid_field("retry.backoff_s[" + std::to_string(i) + "]",
                             "must be whole seconds from 0 to 86400");
      }
      policy.backoff_s.push_back(b[i].get<int>());
    }
  }
  if (r.contains("on") && !r["on"].is_null()) {
    auto on = get_string_list(r, "on", "retry.on");
    if (!on.ok()) return on.error();
    const auto& known = retry_reasons();
    policy.on.clear();
    for (const auto& name : *on) {
      FailureReason reason = parse_failure_reason(name);
      if (std::find(known.begin(), known.end(), reason) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(to_string(k));
        return invalid_field("retry.on",
                             "'" + name + "' is not a failure reason; use any of " + list);
      }
      policy.on.push_back(reason);
    }
    std::sort(policy.on.begin(), policy.on.end());
    policy.on.erase(std::unique(policy.on.begin(), policy.on.end()), policy.on.end());
  }
  auto patterns = get_string_list(r, "transient_patterns", "retry.transient_patterns");
  if (!patterns.ok()) return patterns.error();
  for (const auto& p : *patterns) {
    if (p.empty() || p.size() > 200)
      return invalid_field("retry.transient_patterns", "each pattern must be 1-200 characters");
  }
  policy.transient_patterns = *patterns;
  return policy;
}

}  // namespace

Error invalid_field(const std::string& field, const std::string& why) {
  return make_error(ErrorCode::kInvalidSpec, "field '" + field + "': " + why);
}

Result<void> check_known_fields(const json& obj, const std::string& prefix,
                                std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      return invalid_field(prefix + it.key(),
                           "unknown field; check its spelling against docs/api.md");
    }
  }
  return {};
}

json time_or_null(TimeMs t) {
  return t > 0 ? json(format_time(t)) : json(nullptr);
}

std::string_view to_string(FailureReason reason) {
  return enum_name(reason, kFailureReasons);
}

FailureReason parse_failure_reason(std::string_view text) {
  for (const auto& [reason, name] : kFailureReasons) {
    if (name == text && reason != FailureReason::kOther) return reason;
  }
  return FailureReason::kOther;
}

const std::vector<FailureReason>& retry_reasons() {
  static const std::vector<FailureReason> kReasons = {
      FailureReason::kRunnerLost, FailureReason::kTransient, FailureReason::kImagePull,
      FailureReason::kClone,      FailureReason::kEngine,    FailureReason::kOomKilled,
      FailureReason::kTimedOut,   FailureReason::kExitCode,  FailureReason::kAgent};
  return kReasons;
}

std::string reason_label(std::string_view reason) {
  if (reason.empty()) return "none";
  return std::string(to_string(parse_failure_reason(reason)));
}

std::string reason_label(AttemptState state, std::string_view reason) {
  return reason.empty() && state == AttemptState::kFailed ? "exit_code" : reason_label(reason);
}

bool RetryPolicy::retries(FailureReason reason) const {
  if (reason == FailureReason::kPolicy) return false;
  return std::find(on.begin(), on.end(), reason) != on.end();
}

int64_t RetryPolicy::backoff_ms(int failed_attempt) const {
  if (backoff_s.empty() || failed_attempt < 1) return 0;
  size_t i = std::min(static_cast<size_t>(failed_attempt - 1), backoff_s.size() - 1);
  return static_cast<int64_t>(backoff_s[i]) * 1000;
}

std::string_view to_string(TokenKind kind) {
  return enum_name(kind, kTokenKinds);
}
std::optional<TokenKind> parse_token_kind(std::string_view s) {
  return parse_enum(s, kTokenKinds);
}
std::string_view to_string(JobState state) {
  return enum_name(state, kJobStates);
}
std::optional<JobState> parse_job_state(std::string_view s) {
  return parse_enum(s, kJobStates);
}
std::string_view to_string(AttemptState state) {
  return enum_name(state, kAttemptStates);
}
std::optional<AttemptState> parse_attempt_state(std::string_view s) {
  return parse_enum(s, kAttemptStates);
}

bool is_terminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCanceled;
}

bool job_in_flight(JobState state) {
  return state == JobState::kLeased || state == JobState::kRunning;
}

std::string_view to_string(RunnerStatus status) {
  switch (status) {
    case RunnerStatus::kIdle:
      return "idle";
    case RunnerStatus::kBusy:
      return "busy";
    case RunnerStatus::kDraining:
      return "draining";
    case RunnerStatus::kOffline:
      return "offline";
  }
  return "offline";
}

std::vector<std::string> normalize_labels(std::vector<std::string> labels) {
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

json to_json(const Token& token) {
  json j{{"id", token.id},
         {"kind", to_string(token.kind)},
         {"tenant", token.tenant},
         {"name", token.name},
         {"created_at", time_or_null(token.created_at)},
         {"revoked_at", time_or_null(token.revoked_at)},
         {"last_used_at", time_or_null(token.last_used_at)},
         {"created_by", token.created_by}};
  if (token.kind == TokenKind::kRunner) j["runner_policy"] = to_json(token.runner_policy);
  return j;
}

json to_json(const RunnerTokenPolicy& policy) {
  json j = json::object();
  if (policy.group) j["group"] = *policy.group;
  if (policy.labels) j["labels"] = *policy.labels;
  if (policy.owner_only) j["owner_only"] = true;
  return j;
}

RunnerTokenPolicy runner_policy_from_json(const json& stored) {
  RunnerTokenPolicy policy;
  if (!stored.is_object()) return policy;
  if (stored.contains("group") && stored["group"].is_string())
    policy.group = stored["group"].get<std::string>();
  if (stored.contains("labels") && stored["labels"].is_array()) {
    std::vector<std::string> labels;
    for (const auto& l : stored["labels"]) {
      if (l.is_string()) labels.push_back(l.get<std::string>());
    }
    policy.labels = normalize_labels(std::move(labels));
  }
  policy.owner_only = stored.contains("owner_only") && stored["owner_only"].is_boolean() &&
                      stored["owner_only"].get<bool>();
  return policy;
}

json to_json(const UserSettings& settings) {
  return {{"steward_fallback", settings.steward_fallback}};
}

namespace {

constexpr size_t kMaxSecrets = 100;
constexpr size_t kMaxSecretBytes = 64 * 1024;

// {NAME: value} as submitted, or [NAME, ...] as stored (values empty).
Result<std::map<std::string, std::string>> parse_secrets(
    const json& secrets, const std::map<std::string, std::string>& env) {
  static const std::regex kEnvName("^[A-Za-z_][A-Za-z0-9_]*$");
  std::map<std::string, std::string> out;
  auto add = [&](const std::string& name, std::string value) -> Result<void> {
    if (!std::regex_match(name, kEnvName)) {
      return invalid_field("secrets." + name, "is not a valid environment variable name");
    }
    if (env.count(name))
      return invalid_field("secrets." + name, "is also in 'env'; give it in one of them");
    if (value.size() > kMaxSecretBytes)
      return invalid_field("secrets." + name, "is larger than 64 KiB");
    out[name] = std::move(value);
    return {};
  };
  if (secrets.is_object()) {
    for (auto it = secrets.begin(); it != secrets.end(); ++it) {
      if (!it.value().is_string()) return invalid_field("secrets." + it.key(), "must be a string");
      CORRAL_TRY(add(it.key(), it.value().get<std::string>()));
    }
  } else if (secrets.is_array()) {
    for (size_t i = 0; i < secrets.size(); ++i) {
      if (!secrets[i].is_string())
        return invalid_field("secrets[" + std::to_string(i) + "]", "must be a name");
      CORRAL_TRY(add(secrets[i].get<std::string>(), ""));
    }
  } else {
    return invalid_field("secrets", "must be an object {NAME: value}");
  }
  if (out.size() > kMaxSecrets) return invalid_field("secrets", "more than 100 secrets");
  return out;
}

}  // namespace

Result<void> check_submitted_secrets(const json& body) {
  if (body.is_object() && body.contains("secrets") && !body["secrets"].is_null() &&
      !body["secrets"].is_object()) {
    return invalid_field("secrets",
                         "must be an object {NAME: value}; values are never shown again");
  }
  return {};
}

Result<JobSpec> parse_job_spec(const json& body) {
  if (!body.is_object()) return invalid_field("(body)", "must be a JSON object describing the job");
  CORRAL_TRY(
      check_known_fields(body, "",
                         {"name", "image", "command", "script", "env", "labels", "group", "type",
                          "priority", "timeout_s", "max_attempts", "retry", "repo", "resources",
                          "network", "steward_fallback", "secrets", "agent", "workflow"}));
  JobSpec spec;
  auto name = get_string(body, "name", "name", 200);
  if (!name.ok()) return name.error();
  spec.name = *name;
  auto image = get_string(body, "image", "image", 512);
  if (!image.ok()) return image.error();
  spec.image = *image;

  if (body.contains("command") && body["command"].is_string()) {
    return invalid_field("command",
                         "must be an array of strings (argv); use 'script' for a shell line");
  }
  auto command = get_string_list(body, "command", "command");
  if (!command.ok()) return command.error();
  spec.command = *command;
  auto script = get_string(body, "script", "script", 256 * 1024);
  if (!script.ok()) return script.error();
  spec.script = *script;
  if (body.contains("agent") && !body["agent"].is_null()) {
    auto agent = parse_agent_spec(body["agent"]);
    if (!agent.ok()) return agent.error();
    spec.agent = std::move(agent.value());
  }
  if (body.contains("workflow") && !body["workflow"].is_null()) {
    const json& wf = body["workflow"];
    bool steps = wf.is_object() && wf.contains("job") && wf["job"].is_object() &&
                 wf["job"].contains("steps") && wf["job"]["steps"].is_array();
    bool discover = wf.is_object() && wf.contains("discover") && wf["discover"].is_object();
    if (!steps && !discover) {
      return invalid_field("workflow",
                           "must be a workflow job {run_id, key, job: {steps}, ...} or a discovery "
                           "{discover: {...}}");
    }
    spec.workflow = wf;
  }
  int kinds = !spec.command.empty() + !spec.script.empty() + spec.agent.has_value() +
              spec.workflow.has_value();
  if (kinds == 0) {
    return invalid_field(
        "command", "a job needs a non-empty 'command' (argv array), a 'script' or an 'agent'");
  }
  if (kinds > 1) {
    return invalid_field(spec.agent      ? "agent"
                         : spec.workflow ? "workflow"
                                         : "script",
                         "give one of 'command', 'script', 'agent' and 'workflow', not several");
  }

  if (body.contains("env") && !body["env"].is_null()) {
    const auto& env = body["env"];
    if (!env.is_object()) return invalid_field("env", "must be an object of string values");
    static const std::regex kEnvName("^[A-Za-z_][A-Za-z0-9_]*$");
    for (auto it = env.begin(); it != env.end(); ++it) {
      if (!std::regex_match(it.key(), kEnvName)) {
        return invalid_field("env." + it.key(), "is not a valid environment variable name");
      }
      if (!it.value().is_string()) return invalid_field("env." + it.key(), "must be a string");
      spec.env[it.key()] = it.value().get<std::string>();
    }
  }
  if (body.contains("secrets") && !body["secrets"].is_null()) {
    auto secrets = parse_secrets(body["secrets"], spec.env);
    if (!secrets.ok()) return secrets.error();
    spec.secrets = std::move(secrets.value());
  }

  auto labels = get_labels(body, "labels", "labels");
  if (!labels.ok()) return labels.error();
  spec.labels = *labels;
  auto group = get_string(body, "group", "group", 128);
  if (!group.ok()) return group.error();
  spec.group = *group;
  auto type = get_string(body, "type", "type", 64);
  if (!type.ok()) return type.error();
  spec.type = *type;

  auto priority = get_int(body, "priority", "priority", 0, -1000, 1000);
  if (!priority.ok()) return priority.error();
  spec.priority = static_cast<int>(*priority);
  auto timeout = get_int(body, "timeout_s", "timeout_s", 0, 0, 7 * 24 * 3600);
  if (!timeout.ok()) return timeout.error();
  spec.timeout_s = static_cast<int>(*timeout);
  auto attempts = get_int(body, "max_attempts", "max_attempts", 3, 1, 100);
  if (!attempts.ok()) return attempts.error();
  spec.max_attempts = static_cast<int>(*attempts);
  if (body.contains("retry") && !body["retry"].is_null()) {
    auto retry = parse_retry_policy(body["retry"]);
    if (!retry.ok()) return retry.error();
    spec.retry = std::move(retry.value());
    auto retry_attempts = get_int(body["retry"], "max_attempts", "retry.max_attempts", 0, 1, 100);
    if (!retry_attempts.ok()) return retry_attempts.error();
    if (*retry_attempts > 0) {
      if (body.contains("max_attempts") && !body["max_attempts"].is_null() &&
          *retry_attempts != spec.max_attempts) {
        return invalid_field("retry.max_attempts", "differs from 'max_attempts'; give one of them");
      }
      spec.max_attempts = static_cast<int>(*retry_attempts);
    }
  }
  if (body.contains("steward_fallback") && !body["steward_fallback"].is_null()) {
    if (!body["steward_fallback"].is_boolean())
      return invalid_field("steward_fallback", "must be true or false");
    spec.steward_fallback = body["steward_fallback"].get<bool>();
  }

  if (body.contains("repo") && !body["repo"].is_null()) {
    const auto& r = body["repo"];
    if (!r.is_object()) return invalid_field("repo", "must be an object {url, ref, sha, depth}");
    CORRAL_TRY(check_known_fields(r, "repo.", {"url", "ref", "sha", "depth"}));
    RepoSpec repo;
    auto url = get_string(r, "url", "repo.url", 2048);
    if (!url.ok()) return url.error();
    if (url->empty()) return invalid_field("repo.url", "is required when 'repo' is given");
    repo.url = *url;
    auto ref = get_string(r, "ref", "repo.ref", 256);
    if (!ref.ok()) return ref.error();
    repo.ref = *ref;
    if (!repo.ref.empty() && (repo.ref[0] == '-' || repo.ref.find("..") != std::string::npos)) {
      return invalid_field("repo.ref", "is not a valid git ref");
    }
    auto sha = get_string(r, "sha", "repo.sha", 64);
    if (!sha.ok()) return sha.error();
    static const std::regex kSha("^[0-9a-fA-F]{7,64}$");
    if (!sha->empty() && !std::regex_match(*sha, kSha)) {
      return invalid_field("repo.sha", "must be a hexadecimal commit id (7 to 64 characters)");
    }
    repo.sha = *sha;
    auto depth = get_int(r, "depth", "repo.depth", 0, 0, 1'000'000);
    if (!depth.ok()) return depth.error();
    repo.depth = static_cast<int>(*depth);
    spec.repo = repo;
  }

  if (body.contains("resources") && !body["resources"].is_null()) {
    const auto& res = body["resources"];
    if (!res.is_object()) return invalid_field("resources", "must be an object {memory, cpus}");
    CORRAL_TRY(check_known_fields(res, "resources.", {"memory", "cpus"}));
    if (res.contains("memory") && !res["memory"].is_null()) {
      const auto& m = res["memory"];
      if (m.is_number_integer()) {
        spec.memory_bytes = m.get<int64_t>();
      } else if (m.is_string()) {
        auto bytes = parse_bytes(m.get<std::string>());
        if (!bytes.ok()) return invalid_field("resources.memory", bytes.error().message);
        spec.memory_bytes = *bytes;
      } else {
        return invalid_field("resources.memory", "must be bytes or a size string such as \"512m\"");
      }
      if (spec.memory_bytes < 6 * 1024 * 1024) {
        return invalid_field("resources.memory", "must be at least 6m (the engine's minimum)");
      }
    }
    if (res.contains("cpus") && !res["cpus"].is_null()) {
      if (!res["cpus"].is_number())
        return invalid_field("resources.cpus", "must be a number such as 1.5");
      spec.cpus = res["cpus"].get<double>();
      if (!(spec.cpus > 0 && spec.cpus <= 1024)) {
        return invalid_field("resources.cpus", "must be greater than 0 and at most 1024");
      }
    }
  }
  auto network = get_string(body, "network", "network", 128);
  if (!network.ok()) return network.error();
  static const std::regex kNetwork("^[A-Za-z0-9][A-Za-z0-9_.-]*$");
  if (!network->empty() && !std::regex_match(*network, kNetwork)) {
    return invalid_field("network", "must be a network mode such as \"none\" or \"bridge\"");
  }
  spec.network = *network;
  return spec;
}

Result<AgentSpec> parse_agent_spec(const json& body) {
  if (!body.is_object()) {
    return invalid_field("agent",
                         "must be an object {cli, prompt, model, max_turns, allowed_tools, args}");
  }
  CORRAL_TRY(check_known_fields(body, "agent.",
                                {"cli", "prompt", "model", "max_turns", "allowed_tools", "args"}));
  AgentSpec agent;
  auto cli = get_string(body, "cli", "agent.cli", 16);
  if (!cli.ok()) return cli.error();
  if (!cli->empty()) agent.cli = *cli;
  if (agent.cli != "claude" && agent.cli != "codex" && agent.cli != "auto") {
    return invalid_field("agent.cli",
                         "must be \"claude\", \"codex\" or \"auto\", not \"" + agent.cli + "\"");
  }
  // The prompt reaches the CLI through one environment variable; Linux caps one at 128 KiB.
  auto prompt = get_string(body, "prompt", "agent.prompt", 100 * 1024);
  if (!prompt.ok()) return prompt.error();
  if (prompt->find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid_field("agent.prompt", "is required: what the agent should do");
  }
  agent.prompt = *prompt;
  auto model = get_string(body, "model", "agent.model", 128);
  if (!model.ok()) return model.error();
  static const std::regex kModel("^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$");
  if (!model->empty() && !std::regex_match(*model, kModel)) {
    return invalid_field("agent.model", "must be a model name such as \"claude-sonnet-4-5\"");
  }
  agent.model = *model;
  auto turns = get_int(body, "max_turns", "agent.max_turns", 0, 0, 10'000);
  if (!turns.ok()) return turns.error();
  agent.max_turns = static_cast<int>(*turns);
  auto tools = get_string_list(body, "allowed_tools", "agent.allowed_tools");
  if (!tools.ok()) return tools.error();
  agent.allowed_tools = *tools;
  auto args = get_string_list(body, "args", "agent.args");
  if (!args.ok()) return args.error();
  if (args->size() > 64) return invalid_field("agent.args", "more than 64 arguments");
  agent.args = *args;
  return agent;
}

json to_json(const AgentSpec& agent) {
  json j{{"cli", agent.cli}, {"prompt", agent.prompt}};
  if (!agent.model.empty()) j["model"] = agent.model;
  if (agent.max_turns > 0) j["max_turns"] = agent.max_turns;
  if (!agent.allowed_tools.empty()) j["allowed_tools"] = agent.allowed_tools;
  if (!agent.args.empty()) j["args"] = agent.args;
  return j;
}

namespace {
// retry.on as the API shows it: the reasons' names.
json retry_on_names(const RetryPolicy& retry) {
  json names = json::array();
  for (auto reason : retry.on) names.push_back(std::string(to_string(reason)));
  return names;
}
}  // namespace

json to_json(const JobSpec& spec) {
  json j{{"name", spec.name},
         {"image", spec.image},
         {"labels", spec.labels},
         {"group", spec.group},
         {"type", spec.type},
         {"priority", spec.priority},
         {"timeout_s", spec.timeout_s},
         {"max_attempts", spec.max_attempts},
         {"retry",
          {{"max_attempts", spec.max_attempts},
           {"backoff_s", spec.retry.backoff_s},
           {"on", retry_on_names(spec.retry)},
           {"transient_patterns", spec.retry.transient_patterns}}},
         {"network", spec.network},
         {"env", spec.env}};
  json secret_names = json::array();
  for (const auto& [name, value] : spec.secrets) secret_names.push_back(name);
  j["secrets"] = secret_names;
  if (!spec.command.empty()) j["command"] = spec.command;
  if (!spec.script.empty()) j["script"] = spec.script;
  if (spec.agent) j["agent"] = to_json(*spec.agent);
  if (spec.workflow) j["workflow"] = *spec.workflow;
  if (spec.repo) {
    j["repo"] = {{"url", spec.repo->url},
                 {"ref", spec.repo->ref},
                 {"sha", spec.repo->sha},
                 {"depth", spec.repo->depth}};
  }
  json res = json::object();
  if (spec.memory_bytes > 0) res["memory"] = spec.memory_bytes;
  if (spec.cpus > 0) res["cpus"] = spec.cpus;
  j["resources"] = res;
  if (spec.steward_fallback) j["steward_fallback"] = *spec.steward_fallback;
  return j;
}

json public_json(const JobSpec& spec) {
  json j = to_json(spec);
  if (spec.repo) j["repo"]["url"] = without_userinfo(spec.repo->url);
  return j;
}

json to_json(const Attempt& a) {
  json j{{"attempt", a.number},
         {"runner_id", a.runner_id},
         {"runner_name", a.runner_name},
         {"state", to_string(a.state)},
         {"claimed_at", time_or_null(a.claimed_at)},
         {"lease_expires_at", time_or_null(a.lease_expires_at)},
         {"started_at", time_or_null(a.started_at)},
         {"finished_at", time_or_null(a.finished_at)},
         {"exit_code", a.exit_code ? json(*a.exit_code) : json(nullptr)},
         {"reason", a.reason.empty() ? json(nullptr) : json(a.reason)},
         {"log_size", a.log_size},
         {"log_truncated", a.log_truncated}};
  return j;
}

json to_json(const Job& job) {
  json attempts = json::array();
  for (const auto& a : job.attempts) attempts.push_back(to_json(a));
  return json{{"id", job.id},
              {"name", job.spec.name},
              {"state", to_string(job.state)},
              {"tenant", job.tenant},
              {"spec", public_json(job.spec)},
              {"labels", job.spec.labels},
              {"group", job.spec.group},
              {"group_source", job.group_source.empty() ? json(nullptr) : json(job.group_source)},
              {"repo_name", job.repo_name.empty() ? json(nullptr) : json(job.repo_name)},
              {"type", job.spec.type},
              {"priority", job.spec.priority},
              {"attempt", job.attempt},
              {"max_attempts", job.spec.max_attempts},
              {"attempts", attempts},
              {"cancel_requested", job.cancel_requested},
              {"exit_code", job.exit_code ? json(*job.exit_code) : json(nullptr)},
              {"reason", job.reason.empty() ? json(nullptr) : json(job.reason)},
              {"result", job.result},
              {"created_at", time_or_null(job.created_at)},
              {"updated_at", time_or_null(job.updated_at)},
              {"started_at", time_or_null(job.started_at)},
              {"finished_at", time_or_null(job.finished_at)},
              {"not_before", time_or_null(job.not_before)}};
}

Result<RunnerRegistration> parse_runner_registration(const json& body) {
  if (!body.is_object()) return invalid_field("(body)", "must be a JSON object");
  RunnerRegistration reg;
  auto name = get_string(body, "name", "name", 128);
  if (!name.ok()) return name.error();
  static const std::regex kName("^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$");
  if (!std::regex_match(*name, kName)) {
    return invalid_field(
        "name", "is required: 1-128 letters, digits and _.@- starting with a letter or digit");
  }
  reg.name = *name;
  auto description = get_string(body, "description", "description", 1024);
  if (!description.ok()) return description.error();
  reg.description = *description;
  auto labels = get_labels(body, "labels", "labels");
  if (!labels.ok()) return labels.error();
  reg.labels = *labels;
  auto group = get_string(body, "group", "group", 128);
  if (!group.ok()) return group.error();
  reg.group = group->empty() ? "default" : *group;
  auto modes = get_string_list(body, "modes", "modes");
  if (!modes.ok()) return modes.error();
  reg.modes = modes->empty() ? std::vector<std::string>{"all"} : normalize_labels(*modes);
  auto max_jobs = get_int(body, "max_concurrent_jobs", "max_concurrent_jobs", 1, 1, 1024);
  if (!max_jobs.ok()) return max_jobs.error();
  reg.max_concurrent_jobs = static_cast<int>(*max_jobs);
  if (body.contains("owner_only") && !body["owner_only"].is_null()) {
    if (!body["owner_only"].is_boolean())
      return invalid_field("owner_only", "must be true or false");
    reg.owner_only = body["owner_only"].get<bool>();
  }
  auto version = get_string(body, "version", "version", 64);
  if (!version.ok()) return version.error();
  reg.version = *version;
  if (body.contains("capabilities") && !body["capabilities"].is_null()) {
    if (!body["capabilities"].is_object())
      return invalid_field("capabilities", "must be an object");
    reg.capabilities = body["capabilities"];
  }
  if (body.contains("system") && !body["system"].is_null()) {
    const auto& s = body["system"];
    if (!s.is_object()) return invalid_field("system", "must be an object");
    auto cpus = get_int(s, "cpus", "system.cpus", 0, 0, 1 << 20);
    if (!cpus.ok()) return cpus.error();
    reg.system.cpus = static_cast<int>(*cpus);
    auto mem = get_int(s, "memory_bytes", "system.memory_bytes", 0, 0, INT64_MAX);
    if (!mem.ok()) return mem.error();
    reg.system.memory_bytes = *mem;
    auto disk = get_int(s, "disk_bytes", "system.disk_bytes", 0, 0, INT64_MAX);
    if (!disk.ok()) return disk.error();
    reg.system.disk_bytes = *disk;
    auto host = get_string(s, "hostname", "system.hostname", 256);
    if (!host.ok()) return host.error();
    reg.system.hostname = *host;
  }
  if (body.contains("running") && !body["running"].is_null()) {
    if (!body["running"].is_array())
      return invalid_field("running", "must be an array of {job_id, attempt}");
    for (const auto& r : body["running"]) {
      if (!r.is_object() || !r.contains("job_id") || !r["job_id"].is_string() ||
          !r.contains("attempt") || !r["attempt"].is_number_integer()) {
        return invalid_field("running", "each entry must be {job_id: string, attempt: integer}");
      }
      reg.running.push_back({r["job_id"].get<std::string>(), r["attempt"].get<int>()});
    }
  }
  return reg;
}

std::string runner_error(const Runner& r) {
  if (r.status == RunnerStatus::kOffline || !r.usage.is_object()) return "";
  auto health = r.usage.find("health");
  if (health == r.usage.end() || !health->is_object() || health->value("state", "") != "error")
    return "";
  std::string reason = health->value("reason", "");
  return reason.empty() ? "unhealthy" : reason;
}

std::string shown_status(const Runner& r) {
  return runner_error(r).empty() ? std::string(to_string(r.status)) : "error";
}

json to_json(const Runner& r) {
  json running = json::array();
  for (const auto& a : r.running) running.push_back({{"job_id", a.job_id}, {"attempt", a.attempt}});
  std::string error = runner_error(r);
  return json{{"id", r.id},
              {"name", r.reg.name},
              {"description", r.reg.description},
              {"tenant", r.tenant},
              {"status", shown_status(r)},
              {"error", error.empty() ? json(nullptr) : json(error)},
              {"labels", r.reg.labels},
              {"group", r.reg.group},
              {"modes", r.reg.modes},
              {"running", running},
              {"running_jobs", running.size()},
              {"max_concurrent_jobs", r.reg.max_concurrent_jobs},
              {"owner_only", r.reg.owner_only},
              {"owner_token_id", r.owner_token_id},
              {"last_heartbeat_at", time_or_null(r.last_heartbeat_at)},
              {"registered_at", time_or_null(r.registered_at)},
              {"version", r.reg.version},
              {"capabilities", r.reg.capabilities},
              {"usage", r.usage},
              {"system",
               {{"cpus", r.reg.system.cpus},
                {"memory_bytes", r.reg.system.memory_bytes},
                {"disk_bytes", r.reg.system.disk_bytes},
                {"hostname", r.reg.system.hostname}}}};
}

json to_json(const RunnerCommand& c) {
  json j{{"type", c.type}};
  if (!c.job_id.empty()) {
    j["job_id"] = c.job_id;
    j["attempt"] = c.attempt;
  }
  if (!c.reason.empty()) j["reason"] = c.reason;
  if (!c.id.empty()) j["id"] = c.id;
  if (!c.version.empty()) j["version"] = c.version;
  if (!c.sha256.empty()) j["sha256"] = c.sha256;
  return j;
}

json to_json(const RunnerControl& c) {
  json j{{"id", c.id},
         {"runner_id", c.runner_id},
         {"type", c.type},
         {"state", c.state},
         {"message", c.message},
         {"created_by", c.created_by},
         {"created_at", format_time(c.created_at)},
         {"delivered_at", time_or_null(c.delivered_at)},
         {"finished_at", time_or_null(c.finished_at)}};
  if (c.type == "update") {
    j["version"] = c.version;
    j["sha256"] = c.sha256;
  }
  return j;
}

json to_json(const RunnerUsageSample& s) {
  auto known = [](int64_t bytes) { return bytes >= 0 ? json(bytes) : json(nullptr); };
  return json{{"at", format_time(s.at)},
              {"load_1m", s.load_1m},
              {"memory_available_bytes", known(s.memory_available_bytes)},
              {"disk_free_bytes", known(s.disk_free_bytes)},
              {"running", s.running}};
}

std::optional<RunnerUsageSample> usage_sample_of(const json& usage, int running, TimeMs now) {
  if (!usage.is_object() || !usage.contains("system") || !usage["system"].is_object())
    return std::nullopt;
  const json& system = usage["system"];
  auto bytes = [&](const char* key) -> int64_t {
    return system.contains(key) && system[key].is_number_integer() ? system[key].get<int64_t>()
                                                                   : -1;
  };
  RunnerUsageSample sample;
  sample.at = now;
  if (system.contains("load_1m") && system["load_1m"].is_number())
    sample.load_1m = system["load_1m"].get<double>();
  sample.memory_available_bytes = bytes("memory_available_bytes");
  sample.disk_free_bytes = bytes("disk_free_bytes");
  sample.running = running;
  return sample;
}

json to_json(const ClaimedJob& c) {
  return json{{"job_id", c.job_id},
              {"attempt", c.attempt},
              {"lease_expires_at", format_time(c.lease_expires_at)},
              {"spec", to_json(c.spec)},
              {"secrets", c.spec.secrets}};
}

Result<ClaimedJob> parse_claimed_job(const json& body) {
  if (!body.is_object())
    return invalid_field("jobs[]", "must be an object {job_id, attempt, spec, secrets}");
  ClaimedJob claimed;
  auto job_id = get_string(body, "job_id", "job_id", 128);
  if (!job_id.ok()) return job_id.error();
  if (job_id->empty()) return invalid_field("job_id", "is required");
  claimed.job_id = *job_id;
  auto attempt = get_int(body, "attempt", "attempt", 0, 1, 1'000'000);
  if (!attempt.ok()) return attempt.error();
  claimed.attempt = static_cast<int>(*attempt);
  if (!body.contains("spec")) return invalid_field("spec", "is required");
  auto spec = parse_job_spec(body["spec"]);
  if (!spec.ok()) return spec.error();
  claimed.spec = std::move(spec.value());
  if (body.contains("secrets") && !body["secrets"].is_null()) {
    if (!body["secrets"].is_object())
      return invalid_field("secrets", "must be an object {NAME: value}");
    for (auto it = body["secrets"].begin(); it != body["secrets"].end(); ++it) {
      if (!it.value().is_string()) return invalid_field("secrets." + it.key(), "must be a string");
      claimed.spec.secrets[it.key()] = it.value().get<std::string>();
    }
  }
  return claimed;
}

json to_json(const Revocation& r) {
  return json{{"token", to_json(r.token)},
              {"revoked_runner_tokens", r.runner_tokens},
              {"revoked_runners", r.runners},
              {"paused_schedules", r.schedules},
              {"requeued_jobs", r.requeued_jobs}};
}

Result<FinishReport> parse_finish_report(const json& body) {
  if (!body.is_object())
    return invalid_field("(body)", "must be a JSON object {state, exit_code, reason, result}");
  FinishReport report;
  auto state = get_string(body, "state", "state", 32);
  if (!state.ok()) return state.error();
  auto parsed = parse_attempt_state(*state);
  if (!parsed || (*parsed != AttemptState::kSucceeded && *parsed != AttemptState::kFailed &&
                  *parsed != AttemptState::kCanceled)) {
    return invalid_field("state", "must be one of succeeded, failed, canceled");
  }
  report.state = *parsed;
  if (body.contains("exit_code") && !body["exit_code"].is_null()) {
    if (!body["exit_code"].is_number_integer())
      return invalid_field("exit_code", "must be an integer");
    report.exit_code = body["exit_code"].get<int>();
  }
  auto reason = get_string(body, "reason", "reason", 64);
  if (!reason.ok()) return reason.error();
  report.reason = *reason;
  if (body.contains("result") && !body["result"].is_null()) {
    report.result = body["result"];
    if (report.result.dump().size() > 256 * 1024)
      return invalid_field("result", "is larger than 256 KiB");
  }
  return report;
}

}  // namespace corral

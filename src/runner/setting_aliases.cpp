#include "runner/setting_aliases.h"

#include <sstream>

#include "runner/config.h"

namespace corral {

const std::vector<SettingAlias>& runner_setting_aliases() {
  static const std::vector<SettingAlias> kAliases = {
      {"OVERSIGHT_CLI", "RUNNER_AGENT_CLI", "oversight"},
      {"OVERSIGHT_REPO_DIR", "RUNNER_REPO_CACHE", "oversight"},
      {"ADOS_API_URL", "RUNNER_SERVER_URL", "ADOS Work Runner"},
      {"ADOS_TOKEN", "RUNNER_TOKEN", "ADOS Work Runner"},
      {"ADOS_RUNNER_ID", "RUNNER_NAME", "ADOS Work Runner"},
      {"ADOS_MODE", "RUNNER_MODES", "ADOS Work Runner"},
      {"ADOS_GROUP", "RUNNER_GROUP", "ADOS Work Runner"},
      {"ADOS_HOSTNAME", "RUNNER_HOSTNAME", "ADOS Work Runner"},
      {"ADOS_TENANT_ID", "RUNNER_TENANT", "ADOS Work Runner"},
      {"ADOS_CPUS", "DOCKER_CPU_LIMIT", "ADOS Work Runner"},
      {"ADOS_MEMORY", "DOCKER_MEMORY_LIMIT", "ADOS Work Runner"},
      {"WORKSPACE_DIR", "DOCKER_WORKSPACE_BASE", "ADOS Work Runner"},
      // Monk CI's RUNNER_NAME, RUNNER_DESCRIPTION and RUNNER_LABELS are corral's own names.
      {"API_URL", "RUNNER_SERVER_URL", "Monk CI"},
      {"REGISTRATION_TOKEN", "RUNNER_TOKEN", "Monk CI"},
  };
  return kAliases;
}

std::string alias_hint(const std::string& setting) {
  std::vector<std::string> names;
  for (const auto& a : runner_setting_aliases()) {
    if (a.setting == setting) names.push_back(a.alias);
  }
  if (names.empty()) return "";
  std::string hint = " (or set " + names.front();
  for (size_t i = 1; i < names.size(); ++i) {
    hint += (i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return hint + ")";
}

Error name_alias_source(Error error, const std::map<std::string, std::string>& env,
                        const std::map<std::string, std::string>& flags) {
  for (const auto& [key, alias] : env) {
    if (key.rfind(kAliasSourcePrefix, 0) != 0) continue;
    std::string setting = key.substr(kAliasSourcePrefix.size());
    if (flags.count(setting)) continue;  // the value in question came from a flag
    // build_runner_config's messages begin "NAME (--flag): ".
    std::string prefix = setting + " (--" + setting_flag_name(setting) + ")";
    if (error.message.rfind(prefix, 0) == 0) {
      error.message.insert(prefix.size() - 1, ", set as " + alias);
      break;
    }
  }
  return error;
}

Result<void> add_positional_settings(const std::vector<std::string>& arguments,
                                     std::map<std::string, std::string>& flags) {
  if (arguments.empty()) return {};
  if (arguments.size() < 3) {
    // Never echo the arguments: the second one is a token.
    return make_error(ErrorCode::kInvalidSpec,
                      "corral runner takes API_URL, REGISTRATION_TOKEN and NAME together, but " +
                          std::to_string(arguments.size()) +
                          (arguments.size() == 1 ? " argument was" : " arguments were") +
                          " given\n" + kPositionalRunnerUsage);
  }
  struct Positional {
    const char* argument;
    const char* setting;
  };
  static constexpr Positional kOrder[] = {{"API_URL", "RUNNER_SERVER_URL"},
                                          {"REGISTRATION_TOKEN", "RUNNER_TOKEN"},
                                          {"NAME", "RUNNER_NAME"},
                                          {"DESCRIPTION", "RUNNER_DESCRIPTION"}};
  std::map<std::string, std::string> given;
  for (size_t i = 0; i < arguments.size() && i < std::size(kOrder); ++i) {
    given[kOrder[i].setting] = arguments[i];
  }
  if (arguments.size() > std::size(kOrder)) {
    std::string labels;
    for (size_t i = std::size(kOrder); i < arguments.size(); ++i) {
      std::stringstream words(arguments[i]);
      std::string label;
      while (std::getline(words, label, ',')) {
        auto first = label.find_first_not_of(" \t"), last = label.find_last_not_of(" \t");
        if (first == std::string::npos) continue;
        labels += (labels.empty() ? "" : ",") + label.substr(first, last - first + 1);
      }
    }
    given["RUNNER_LABELS"] = labels;
  }
  for (const auto& [setting, value] : given) {
    if (!flags.count(setting)) continue;
    std::string argument = "LABELS";
    for (const auto& p : kOrder) {
      if (setting == p.setting) argument = p.argument;
    }
    return make_error(ErrorCode::kInvalidSpec,
                      "--" + setting_flag_name(setting) + " and the argument " + argument +
                          " both set " + setting + "; give one of them\n" + kPositionalRunnerUsage);
  }
  for (auto& [setting, value] : given) flags[setting] = std::move(value);
  return {};
}

}  // namespace corral

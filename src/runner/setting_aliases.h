// Other names for the runner's settings: what the systems corral replaces (oversight, ADOS
// Work Runner, Monk CI) call them, so their users switch without rewriting their
// environment or their command line (docs/runner.md, "Coming from ADOS Work Runner or
// Monk CI").
//
//   environment:  NAME=value          a setting's own name (RUNNER_SERVER_URL) wins over
//                 ALIAS=value         its aliases (ADOS_API_URL, API_URL); of two aliases of
//                                     one setting, the one listed first below wins
//   command line: corral runner API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]
//                                     Monk CI's form; the arguments count as flags
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace corral {

struct SettingAlias {
  std::string alias;    // e.g. "ADOS_API_URL"
  std::string setting;  // the setting it stands for, e.g. "RUNNER_SERVER_URL"
  std::string origin;   // the system that used the name, e.g. "ADOS Work Runner"
};
// Every alias, in order of precedence.
const std::vector<SettingAlias>& runner_setting_aliases();

// runner_settings_from() notes here which alias gave a setting its value, so that an error
// about the value names the variable the user actually set.
inline const std::string kAliasSourcePrefix = "alias-source:";

// "RUNNER_SERVER_URL" -> " (or set ADOS_API_URL or API_URL)"; "" for a setting without
// aliases.
std::string alias_hint(const std::string& setting);

// An error of build_runner_config() about a setting whose value came from an alias (`env`
// holds kAliasSourcePrefix entries; a flag of the setting overrode it), told in the alias'
// name as well: "DOCKER_MEMORY_LIMIT (--docker-memory-limit, set as ADOS_MEMORY): ...".
Error name_alias_source(Error error, const std::map<std::string, std::string>& env,
                        const std::map<std::string, std::string>& flags);

// Monk CI's command form.
inline constexpr const char* kPositionalRunnerUsage =
    "usage: corral runner API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]\n"
    "   or: corral runner [--config FILE] [--server-url URL --token TOKEN --name NAME ...]";
// Adds the settings that positional arguments stand for to `flags`: server URL, token,
// name, description, then labels (several words, or comma lists, or both). None is fine;
// fewer than three is an error, and so is a setting given both ways (`--name` and NAME).
Result<void> add_positional_settings(const std::vector<std::string>& arguments,
                                     std::map<std::string, std::string>& flags);

}  // namespace corral

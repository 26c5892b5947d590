// .env files: the runner's settings as NAME=value lines, the way docker compose's `env_file`,
// systemd's `EnvironmentFile` and oversight read them.
//
//   # a comment                  ignored, as are blank lines
//   RUNNER_NAME=build-box-1
//   export RUNNER_LABELS=linux   `export ` is allowed (the file can be sourced by a shell)
//   RUNNER_DESCRIPTION="a box"   a value in double quotes (\" \\ \n escapes) or single quotes
//
// `corral runner --env-file FILE` reads one (below the process's environment, which wins);
// `corral runner setup` writes one (runner/setup_wizard.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace corral {

// The variables the text sets; a later line wins. Lines that set nothing are skipped.
std::map<std::string, std::string> parse_env_text(std::string_view text);
Result<std::map<std::string, std::string>> read_env_file(const std::string& path);

// A value as a line's right-hand side: bare when that reads back the same, else quoted.
std::string env_quote(std::string_view value);

// `text` with every line that sets one of `values` rewritten to the new value and the rest
// (comments, other variables) kept as they are; the values it did not set are appended.
std::string update_env_text(std::string_view text,
                            const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace corral

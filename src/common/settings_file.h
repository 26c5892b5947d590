// Settings files: what `corral server --config FILE` and `corral runner --config FILE` read.
// A YAML mapping whose keys are settings' names: the environment variable (CORRAL_LISTEN,
// RUNNER_NAME) or the flag without its dashes (listen, name); a list is joined with commas.
// Both programs put a file's settings below the environment, and the environment below the
// flags: file < environment < flags.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corral {

struct KnownSetting {
  std::string env;   // its environment variable, the name it is stored under
  std::string flag;  // its flag without the leading dashes
};

// The file's settings by environment name. kInvalidSpec naming the file and key for a key
// that is no known setting (`docs` says where they are listed), a value that is neither a
// plain value nor a list of them, or a file that is not a mapping or over 1 MiB.
Result<std::map<std::string, std::string>> parse_settings_file(
    std::string_view yaml_text, const std::string& source, const std::vector<KnownSetting>& known,
    const std::string& docs);
Result<std::map<std::string, std::string>> read_settings_file(
    const std::string& path, const std::vector<KnownSetting>& known, const std::string& docs);

}  // namespace corral

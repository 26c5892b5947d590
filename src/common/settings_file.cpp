#include "common/settings_file.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace corral {

Result<std::map<std::string, std::string>> parse_settings_file(
    std::string_view yaml_text, const std::string& source, const std::vector<KnownSetting>& known,
    const std::string& docs) {
  constexpr size_t kMaxConfigBytes = 1024 * 1024;
  if (yaml_text.size() > kMaxConfigBytes) {
    return make_error(ErrorCode::kInvalidSpec,
                      source + " is larger than 1 MiB; a config file is a short list of settings");
  }
  std::map<std::string, std::string> out;
  // yaml-cpp reports what it cannot read (and a value of the wrong shape) by exceptions.
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (root.IsNull()) return out;  // an empty file sets nothing
    if (!root.IsMap())
      return make_error(ErrorCode::kInvalidSpec, source + " must be a YAML mapping of settings");
    for (const auto& item : root) {
      if (!item.first.IsScalar()) {
        return make_error(ErrorCode::kInvalidSpec, source + ": every key must be a setting name");
      }
      std::string key = item.first.as<std::string>();
      std::string canonical;
      for (const auto& setting : known) {
        if (key == setting.env || key == setting.flag) canonical = setting.env;
      }
      if (canonical.empty()) {
        return make_error(ErrorCode::kInvalidSpec,
                          source + ": unknown setting '" + key + "' (see " + docs + ")");
      }
      const auto& value = item.second;
      if (value.IsSequence()) {
        std::string joined;
        for (const auto& v : value) {
          if (!v.IsScalar()) {
            return make_error(ErrorCode::kInvalidSpec,
                              source + ": '" + key + "' must be a list of plain values");
          }
          joined += (joined.empty() ? "" : ",") + v.as<std::string>();
        }
        out[canonical] = joined;
      } else if (value.IsScalar()) {
        out[canonical] = value.as<std::string>();
      } else {
        return make_error(ErrorCode::kInvalidSpec,
                          source + ": '" + key + "' must be a value or a list");
      }
    }
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidSpec, "cannot read " + source + ": " + e.what());
  }
  return out;
}

Result<std::map<std::string, std::string>> read_settings_file(
    const std::string& path, const std::vector<KnownSetting>& known, const std::string& docs) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ErrorCode::kInvalidSpec,
                      "cannot read config file " + path + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_settings_file(text, "config file " + path, known, docs);
}

}  // namespace corral

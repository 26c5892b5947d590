#include "workflow/yaml_value.h"

#include <cstdlib>
#include <regex>

namespace corral::workflow {

int yaml_line(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

namespace {

std::optional<nlohmann::json> wf_plain_scalar(const std::string& text) {
  // YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kOctal("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex kSpecialFloat("[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  if (text == "null" || text == "Null" || text == "NULL" || text == "~" || text.empty()) {
    return nlohmann::json(nullptr);
  }
  if (text == "true" || text == "True" || text == "TRUE") return nlohmann::json(true);
  if (text == "false" || text == "False" || text == "FALSE") return nlohmann::json(false);
  errno = 0;
  if (std::regex_match(text, kInt)) {
    long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return nlohmann::json(v);
    return nlohmann::json(std::strtod(text.c_str(), nullptr));
  }
  if (std::regex_match(text, kOctal))
    return nlohmann::json(std::strtoll(text.c_str() + 2, nullptr, 8));
  if (std::regex_match(text, kHex))
    return nlohmann::json(std::strtoll(text.c_str() + 2, nullptr, 16));
  if (std::regex_match(text, kFloat)) return nlohmann::json(std::strtod(text.c_str(), nullptr));
  if (std::regex_match(text, kSpecialFloat)) return std::nullopt;
  return nlohmann::json(text);
}

}  // namespace

std::optional<nlohmann::json> yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nlohmann::json(nullptr);
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted and block scalars "!" and plain ones "?".
      if (node.Tag() == "!") return nlohmann::json(node.Scalar());
      return wf_plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) {
        auto v = yaml_to_json(item);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) {
        auto v = yaml_to_json(item.second);
        if (!v) return std::nullopt;
        out[item.first.Scalar()] = std::move(*v);
      }
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace corral::workflow

#include "runtime/container_runtime.h"

#include <algorithm>
#include <cctype>

namespace corral {

Result<PullPolicy> parse_pull_policy(std::string_view text) {
  std::string key;
  for (char c : text) {
    if (c == '-' || c == '_') continue;
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (key == "ifnotpresent" || key.empty()) return PullPolicy::kIfNotPresent;
  if (key == "always") return PullPolicy::kAlways;
  if (key == "never") return PullPolicy::kNever;
  return make_error(ErrorCode::kInvalidSpec,
                    "unknown pull policy '" + std::string(text) +
                        "'; use if-not-present, always or never");
}

std::string_view pull_policy_name(PullPolicy policy) {
  switch (policy) {
    case PullPolicy::kIfNotPresent: return "if-not-present";
    case PullPolicy::kAlways: return "always";
    case PullPolicy::kNever: return "never";
  }
  return "if-not-present";
}

bool labels_match(const std::map<std::string, std::string>& labels, std::string_view filter) {
  auto eq = filter.find('=');
  std::string key(filter.substr(0, eq));
  auto it = labels.find(key);
  if (it == labels.end()) return false;
  return eq == std::string_view::npos || it->second == filter.substr(eq + 1);
}

}  // namespace corral

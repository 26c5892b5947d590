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
  return make_error(ErrorCode::kInvalidSpec, "unknown pull policy '" + std::string(text) +
                                                 "'; use if-not-present, always or never");
}

std::string_view pull_policy_name(PullPolicy policy) {
  switch (policy) {
    case PullPolicy::kIfNotPresent:
      return "if-not-present";
    case PullPolicy::kAlways:
      return "always";
    case PullPolicy::kNever:
      return "never";
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

awaitable<Result<void>> ContainerRuntime::start_held(const std::string&) {
  co_return make_error(ErrorCode::kInvalidSpec,
                       "this executor cannot keep containers warm (DOCKER_POOL_SIZE needs the "
                       "docker executor)");
}

bool ContainerRuntime::held(const std::string&) const {
  return false;
}

awaitable<Result<std::vector<std::string>>> ContainerRuntime::image_entrypoint(const std::string&) {
  co_return std::vector<std::string>{};
}

awaitable<Result<ExitStatus>> ContainerRuntime::run_with_input(const std::string&, std::string,
                                                               OutputSink) {
  co_return make_error(ErrorCode::kInvalidSpec,
                       "this executor cannot keep containers warm (DOCKER_POOL_SIZE needs the "
                       "docker executor)");
}

}  // namespace corral

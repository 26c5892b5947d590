#include "workflow/triggers.h"

#include <algorithm>
#include <regex>

namespace corral::workflow {
namespace {

// The pattern as an ECMAScript regex matched against the whole value.
std::string wf_pattern_regex(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '*') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
        ++i;
        if (i + 1 < pattern.size() && pattern[i + 1] == '/') {
          ++i;
          out += "(?:.*/)?";
        } else {
          out += ".*";
        }
      } else {
        out += "[^/]*";
      }
    } else if (c == '?' || c == '+') {
      out += c;  // quantifies the preceding character, as in a regex
    } else if (c == '[') {
      size_t close = pattern.find(']', i + 1);
      if (close == std::string_view::npos) {
        out += "\\[";
      } else {
        std::string_view inside = pattern.substr(i + 1, close - i - 1);
        out += '[';
        for (char k : inside) {
          if (k == '\\' || k == '^' || k == '[' || k == ']') out += '\\';
          out += k;
        }
        out += ']';
        i = close;
      }
    } else {
      if (std::string_view(".^$|(){}\\]").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  return out;
}

}  // namespace

bool filter_pattern_matches(std::string_view pattern, std::string_view value) {
  // `?` or `+` first, or `**+`, make no regex: such a pattern matches nothing.
  try {
    std::regex re(wf_pattern_regex(pattern), std::regex::ECMAScript);
    return std::regex_match(value.begin(), value.end(), re);
  } catch (const std::regex_error&) {
    return false;
  }
}

bool filters_match(const std::vector<std::string>& patterns, std::string_view value) {
  bool included = false;
  for (const auto& pattern : patterns) {
    bool exclude = !pattern.empty() && pattern.front() == '!';
    if (filter_pattern_matches(exclude ? std::string_view(pattern).substr(1) : pattern, value)) {
      included = !exclude;
    }
  }
  return included;
}

bool push_triggers(const Triggers& on, std::string_view ref,
                   const std::vector<std::string>& changed_paths) {
  if (!on.push) return false;
  const PushTrigger& push = *on.push;
  constexpr std::string_view kBranch = "refs/heads/";
  constexpr std::string_view kTag = "refs/tags/";
  bool is_tag = ref.rfind(kTag, 0) == 0;
  bool is_branch = ref.rfind(kBranch, 0) == 0;
  bool ref_ok = true;
  if (!push.branches.empty() || !push.tags.empty()) {
    if (is_branch) {
      ref_ok = filters_match(push.branches, ref.substr(kBranch.size()));
    } else if (is_tag) {
      ref_ok = filters_match(push.tags, ref.substr(kTag.size()));
    } else {
      ref_ok = false;
    }
  }
  if (!ref_ok) return false;
  if (push.paths.empty() || is_tag) return true;
  return std::any_of(changed_paths.begin(), changed_paths.end(),
                     [&](const std::string& path) { return filters_match(push.paths, path); });
}

bool pull_request_triggers(const Triggers& on, std::string_view base_branch,
                           std::string_view action) {
  if (!on.pull_request) return false;
  const PullRequestTrigger& pr = *on.pull_request;
  static const std::vector<std::string> kDefaultTypes = {"opened", "synchronize", "reopened"};
  const auto& types = pr.types.empty() ? kDefaultTypes : pr.types;
  if (std::find(types.begin(), types.end(), action) == types.end()) return false;
  return pr.branches.empty() || filters_match(pr.branches, base_branch);
}

}  // namespace corral::workflow

// Whether an event starts a workflow: the `on:` filters against a push or a pull request, as
// GitHub documents them ("Filter pattern cheat sheet", "Using filters").
//
// Patterns: `*` any characters but `/`; `**` any characters (`**/` also none: `**/a.js`
// matches `a.js`); `?` the preceding character zero or one time; `+` one or more times;
// `[abc]`, `[0-9]` one character of a class; everything else literally. A pattern starting
// with `!` excludes; patterns are read in order and the last one that matches decides
// (`[main, 'releases/**', '!releases/**-alpha']`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "workflow/workflow.h"

namespace corral::workflow {

// One pattern (without a leading `!`) against a branch, tag or path.
bool filter_pattern_matches(std::string_view pattern, std::string_view value);

// A list of patterns with `!` exclusions: true when the last pattern matching `value` is not
// an exclusion (false when none matches).
bool filters_match(const std::vector<std::string>& patterns, std::string_view value);

// A push of `ref` (refs/heads/<branch> or refs/tags/<tag>) that changed `changed_paths`:
//   - no branches and no tags filter: every push; branches only: branch pushes that match, no
//     tag pushes; tags only: tag pushes that match, no branch pushes; both: either matching;
//   - a paths filter needs one changed path that matches; tag pushes skip it, as on GitHub.
bool push_triggers(const Triggers& on, std::string_view ref,
                   const std::vector<std::string>& changed_paths);

// A pull request `action` (opened, synchronize, ...) whose base branch is `base_branch`.
// Without `types`, GitHub's default: opened, synchronize and reopened.
bool pull_request_triggers(const Triggers& on, std::string_view base_branch,
                           std::string_view action);

}  // namespace corral::workflow

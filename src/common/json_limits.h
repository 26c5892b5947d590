// Parsing JSON that comes from outside the process (request bodies, the server's answers, the
// container engine's answers, a job's result file) with a limit on its nesting and its size.
//
// Why: nlohmann/json parses without recursion, but copying, comparing and dumping a value
// recurse once per level, so a 400 KB body nested 200,000 deep overflows the stack of whoever
// copies it next. The parse here stops at the first object or array past the depth limit,
// before any deep tree exists; a value it returns is safe to copy and dump.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace corral {

// Objects and arrays within each other: `[]` is 1 level, `{"a": []}` is 2.
inline constexpr int kMaxJsonDepth = 64;
inline constexpr size_t kDefaultMaxJsonBytes = 16 * 1024 * 1024;

struct JsonLimits {
  int max_depth = kMaxJsonDepth;
  size_t max_bytes = kDefaultMaxJsonBytes;
};

// The parsed value, or an error a user can act on, naming `what` ("request body", "the
// server's answer"): kBadRequest when the text is not JSON or is nested deeper than
// limits.max_depth, kPayloadTooLarge when it is longer than limits.max_bytes (checked first,
// before any parsing).
Result<nlohmann::json> parse_json_limited(std::string_view text, std::string_view what,
                                          const JsonLimits& limits = {});

// Reading the answers of other programs without exceptions: obj[key] when obj is an object
// and the value is a string (an integer that fits int64_t), the fallback otherwise.
std::string json_string_or(const nlohmann::json& obj, const char* key, std::string fallback = "");
int64_t json_int_or(const nlohmann::json& obj, const char* key, int64_t fallback);

}  // namespace corral

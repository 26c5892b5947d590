// Reading a request's JSON body field by field: each helper answers 422 naming the field when
// the value is of the wrong type, never an exception. parse_json_body (context.h) parses the
// body itself with the nesting limit of common/json_limits.h.
#pragma once

#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"
#include "net/router.h"

namespace corral {

// 422 "the request body must be a JSON object such as EXAMPLE" unless body is an object.
Result<void> require_object(const json& body, std::string_view example);
// body[key] when it is a boolean; fallback when absent or null; 422 naming key otherwise.
Result<bool> optional_bool(const json& body, const char* key, bool fallback);
// body[key] when it is a string; fallback when absent or null; 422 naming key otherwise.
Result<std::string> optional_string(const json& body, const char* key, std::string fallback);

// The query parameter `key` as a whole number from min to max; def when absent or empty; 400
// naming the parameter, its range and what was sent otherwise.
Result<int64_t> query_int(const RequestContext& req, const std::string& key, int64_t def,
                          int64_t min, int64_t max);

}  // namespace corral

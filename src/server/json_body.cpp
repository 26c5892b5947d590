// The JSON side of every route: parsing request bodies with limits, typed fields, answers.
#include "server/json_body.h"

#include <limits>

#include "common/json_limits.h"
#include "common/numbers.h"
#include "server/context.h"

namespace corral {

Result<json> parse_json_body(const RequestContext& req) {
  const auto& body = req.msg.body();
  if (body.empty()) return json::object();
  // The size is bounded already: the HTTP layer answers 413 past the server's body limit.
  JsonLimits limits{kMaxJsonDepth, std::numeric_limits<size_t>::max()};
  return parse_json_limited(body, "the request body", limits);
}

Result<void> require_object(const json& body, std::string_view example) {
  if (body.is_object()) return {};
  return make_error(ErrorCode::kInvalidSpec, "the request body must be a JSON object such as " +
                                                 std::string(example) + ", not " +
                                                 body.type_name());
}

Result<bool> optional_bool(const json& body, const char* key, bool fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return invalid_field(key, "must be true or false");
  return it->get<bool>();
}

Result<std::string> optional_string(const json& body, const char* key, std::string fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_string()) return invalid_field(key, "must be a string");
  return it->get<std::string>();
}

// Answers replace bytes that are not UTF-8 (a path or a name echoed back) instead of
// throwing from dump().
std::string json_text(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Response json_ok(const json& body, http::status status) {
  return json_response(status, json_text(body));
}

Response error_of(const Error& error) {
  return error_response(error);
}

Result<int64_t> query_int(const RequestContext& req, const std::string& key, int64_t def,
                          int64_t min, int64_t max) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return def;
  auto value = parse_number<int64_t>(it->second);
  if (!value || *value < min || *value > max) {
    return make_error(ErrorCode::kBadRequest,
                      "query parameter '" + key + "' must be a whole number from " +
                          std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                          it->second + "'");
  }
  return *value;
}

}  // namespace corral

#include "common/json_limits.h"

#include <string>

namespace corral {

namespace {
// Thrown from the parser's callback to stop the parse at the first container too deep; it
// never leaves parse_json_limited.
struct JsonNestedTooDeep {};
}  // namespace

Result<nlohmann::json> parse_json_limited(std::string_view text, std::string_view what,
                                          const JsonLimits& limits) {
  using json = nlohmann::json;
  if (text.size() > limits.max_bytes) {
    return make_error(ErrorCode::kPayloadTooLarge,
                      std::string(what) + " is larger than " + std::to_string(limits.max_bytes) +
                          " bytes (" + std::to_string(text.size()) + " given); send less");
  }
  // The callback sees each object and array as it opens, with the number of containers
  // around it: refusing there means no level past the limit is ever built.
  const int max_depth = limits.max_depth;
  json::parser_callback_t refuse_deep = [max_depth](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      throw JsonNestedTooDeep{};
    }
    return true;
  };
  try {
    return json::parse(text, refuse_deep);
  } catch (const JsonNestedTooDeep&) {
    return make_error(ErrorCode::kBadRequest,
                      std::string(what) + " is JSON nested deeper than " +
                          std::to_string(max_depth) +
                          " levels (objects and arrays within each other); flatten it");
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kBadRequest,
                      std::string(what) + " is not valid JSON: " + e.what());
  }
}

std::string json_string_or(const nlohmann::json& obj, const char* key, std::string fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

int64_t json_int_or(const nlohmann::json& obj, const char* key, int64_t fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return fallback;
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return fallback;
  return it->get<int64_t>();
}

}  // namespace corral

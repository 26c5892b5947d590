// parse_json_limited: JSON from outside the process, refused past a nesting depth and a size
// before a deep tree exists.
#include "common/json_limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace corral {
namespace {

using nlohmann::json;

// n arrays within each other: "[[[...]]]".
std::string nested_arrays(size_t n) {
  return std::string(n, '[') + std::string(n, ']');
}

// n objects within each other: {"a":{"a":...{}}}.
std::string nested_objects(size_t n) {
  std::string text;
  for (size_t i = 1; i < n; ++i) text += "{\"a\":";
  text += "{}";
  text += std::string(n - 1, '}');
  return text;
}

TEST(JsonLimits, SixtyFourLevelsAreAccepted) {
  auto arrays = parse_json_limited(nested_arrays(64), "the body");
  ASSERT_TRUE(arrays.ok()) << arrays.error().message;
  auto objects = parse_json_limited(nested_objects(64), "the body");
  ASSERT_TRUE(objects.ok()) << objects.error().message;
  // The value is complete: 63 levels of "a" down to an empty object.
  const json* level = &*objects;
  for (int i = 1; i < 64; ++i) level = &level->at("a");
  EXPECT_EQ(*level, json::object());
}

TEST(JsonLimits, SixtyFiveLevelsAreRefusedNamingTheLimit) {
  for (const auto& text :
       {nested_arrays(65), nested_objects(65), "{\"x\":[1,2," + nested_arrays(64) + "]}"}) {
    auto parsed = parse_json_limited(text, "the body");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(parsed.error().status(), 400);
    EXPECT_NE(parsed.error().message.find("the body is JSON nested deeper than 64 levels"),
              std::string::npos)
        << parsed.error().message;
  }
}

TEST(JsonLimits, TheDepthLimitIsAParameter) {
  EXPECT_TRUE(parse_json_limited(nested_arrays(3), "x", {3, 1024}).ok());
  auto refused = parse_json_limited(nested_arrays(4), "x", {3, 1024});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("deeper than 3 levels"), std::string::npos);
  // Scalars at the top level have no depth.
  EXPECT_EQ(*parse_json_limited("42", "x", {0, 1024}), json(42));
}

TEST(JsonLimits, TwoHundredThousandLevelsAreRefusedQuicklyWithoutACrash) {
  std::string deep = "{\"a\": " + nested_arrays(200'000) + "}";
  auto started = std::chrono::steady_clock::now();
  auto parsed = parse_json_limited(deep, "the body", {kMaxJsonDepth, 1024 * 1024});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("nested deeper than 64 levels"), std::string::npos);
  // The parse stops at level 65, long before the end of the text (a generous bound that a
  // sanitized build on a loaded machine meets easily).
  EXPECT_LT(took, std::chrono::seconds(1));
  // Unclosed nesting is refused the same way, not read to its end.
  EXPECT_FALSE(parse_json_limited(std::string(200'000, '['), "the body").ok());
}

TEST(JsonLimits, TextLongerThanTheSizeLimitIsRefusedBeforeParsing) {
  std::string text = "[\"" + std::string(100, 'x') + "\"]";  // 104 bytes
  EXPECT_TRUE(parse_json_limited(text, "the body", {kMaxJsonDepth, 104}).ok());
  auto parsed = parse_json_limited(text, "the body", {kMaxJsonDepth, 103});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(parsed.error().status(), 413);
  EXPECT_NE(parsed.error().message.find("the body is larger than 103 bytes"), std::string::npos)
      << parsed.error().message;
  // Size first: even text that is not JSON is refused for its size.
  EXPECT_EQ(parse_json_limited(std::string(200, '{'), "x", {kMaxJsonDepth, 100}).error().code,
            ErrorCode::kPayloadTooLarge);
}

TEST(JsonLimits, InvalidJsonSaysWhereAndWhat) {
  for (const std::string text : {"{\"a\": }", "", "[1, 2", "{\"a\": 1} trailing", "\"\xff\""}) {
    auto parsed = parse_json_limited(text, "the request body");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kBadRequest);
    EXPECT_EQ(parsed.error().message.rfind("the request body is not valid JSON: ", 0), 0u)
        << parsed.error().message;
    EXPECT_NE(parsed.error().message.find("parse error"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(JsonLimits, ValuesOfEveryTypeParseAsUsual) {
  auto parsed =
      parse_json_limited(R"({"s": "x", "n": -3, "u": 18446744073709551615, "f": 1.5, "b": true,
                                      "z": null, "a": [1, {"k": []}], "o": {}})",
                         "x");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ((*parsed)["s"], "x");
  EXPECT_EQ((*parsed)["n"], -3);
  EXPECT_EQ((*parsed)["a"][1]["k"], json::array());
  EXPECT_EQ(parsed->size(), 8u);
}

TEST(JsonLimits, FieldReadersFallBackOnWrongTypes) {
  json obj{
      {"s", "text"}, {"n", 7}, {"big", 18446744073709551615ull}, {"f", 1.5}, {"o", {{"s", 1}}}};
  EXPECT_EQ(json_string_or(obj, "s"), "text");
  EXPECT_EQ(json_string_or(obj, "n", "fallback"), "fallback");
  EXPECT_EQ(json_string_or(obj, "missing", "fallback"), "fallback");
  EXPECT_EQ(json_string_or(json::array({1}), "s", "fallback"), "fallback");
  EXPECT_EQ(json_string_or(json(nullptr), "s", "fallback"), "fallback");
  EXPECT_EQ(json_int_or(obj, "n", -1), 7);
  EXPECT_EQ(json_int_or(obj, "s", -1), -1);
  EXPECT_EQ(json_int_or(obj, "f", -1), -1);
  EXPECT_EQ(json_int_or(obj, "big", -1), -1);  // does not fit int64_t
  EXPECT_EQ(json_int_or(json("x"), "n", -1), -1);
}

}  // namespace
}  // namespace corral

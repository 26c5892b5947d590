// The typed field readers of request bodies: 422 naming the field, never an exception.
#include "server/json_body.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

TEST(JsonBody, OptionalBoolReadsBooleansAndNamesAWrongType) {
  json body{{"yes", true}, {"no", false}, {"null", nullptr}, {"text", "yes"}, {"number", 1}};
  EXPECT_TRUE(*optional_bool(body, "yes", false));
  EXPECT_FALSE(*optional_bool(body, "no", true));
  EXPECT_TRUE(*optional_bool(body, "missing", true));
  EXPECT_TRUE(*optional_bool(body, "null", true));
  for (const char* key : {"text", "number"}) {
    auto r = optional_bool(body, key, false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().status(), 422);
    EXPECT_EQ(r.error().message, "field '" + std::string(key) + "': must be true or false");
  }
}

TEST(JsonBody, OptionalStringReadsStringsAndNamesAWrongType) {
  json body{{"name", "n"}, {"kind", 5}, {"tenant", json::object()}};
  EXPECT_EQ(*optional_string(body, "name", "x"), "n");
  EXPECT_EQ(*optional_string(body, "missing", "fallback"), "fallback");
  for (const char* key : {"kind", "tenant"}) {
    auto r = optional_string(body, key, "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().status(), 422);
    EXPECT_EQ(r.error().message, "field '" + std::string(key) + "': must be a string");
  }
}

TEST(JsonBody, RequireObjectRefusesEveryOtherType) {
  EXPECT_TRUE(require_object(json::object(), "{a}").ok());
  for (const auto& body : {json::array(), json(42), json("x"), json(nullptr), json(true)}) {
    auto r = require_object(body, "{a, b}");
    ASSERT_FALSE(r.ok()) << body.dump();
    EXPECT_EQ(r.error().status(), 422);
    EXPECT_NE(r.error().message.find("must be a JSON object such as {a, b}"), std::string::npos);
    EXPECT_NE(r.error().message.find(body.type_name()), std::string::npos) << r.error().message;
  }
  // Readers on a non-object fall back rather than throw (callers check the object first).
  EXPECT_TRUE(*optional_bool(json::array(), "a", true));
}

}  // namespace
}  // namespace corral

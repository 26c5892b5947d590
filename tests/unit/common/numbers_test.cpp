#include "common/numbers.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "common/units.h"
#include "net/endpoint.h"
#include "net/router.h"

namespace corral {
namespace {

TEST(NumbersTest, TheWholeTextMustBeTheNumber) {
  EXPECT_EQ(parse_number<int>("8080"), 8080);
  EXPECT_EQ(parse_number<int>("-7"), -7);
  EXPECT_EQ(parse_number<int>("0"), 0);
  for (const char* text : {"", " 80", "80 ", "80x", "+80", "0x50", "8.0"}) {
    EXPECT_FALSE(parse_number<int>(text).has_value()) << text;
  }
  EXPECT_EQ(parse_number<unsigned char>("ff", 16), 255);
  EXPECT_EQ(parse_number<double>("1.5"), 1.5);
  EXPECT_FALSE(parse_number<double>("1.5 cpus").has_value());
}

TEST(NumbersTest, OutOfRangeIsNoNumberRatherThanAnException) {
  EXPECT_FALSE(parse_number<int>("99999999999").has_value());
  EXPECT_FALSE(parse_number<uint16_t>("65536").has_value());
  EXPECT_EQ(parse_number<uint16_t>("65535"), 65535);
  EXPECT_FALSE(parse_number<unsigned>("-1").has_value());
}

TEST(NumbersTest, ParsersBuiltOnIt) {
  EXPECT_EQ(*parse_bytes("512m"), 512 * 1024 * 1024);
  EXPECT_EQ(*parse_bytes("1.5 GiB"), 3 * 512 * 1024 * 1024LL);
  EXPECT_FALSE(parse_bytes("m").ok());
  EXPECT_FALSE(parse_bytes("12x").ok());
  EXPECT_EQ(url_decode("a%2Fb%20c+d"), "a/b c d");
  EXPECT_EQ(Endpoint::parse("tcp://127.0.0.1:2375")->port, 2375);
  EXPECT_FALSE(Endpoint::parse("tcp://127.0.0.1:http").ok());
  EXPECT_FALSE(Endpoint::parse("tcp://127.0.0.1:99999999999").ok());
  EXPECT_FALSE(Endpoint::parse("tcp://127.0.0.1:70000").ok());
}

}  // namespace
}  // namespace corral

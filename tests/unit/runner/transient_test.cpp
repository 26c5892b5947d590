#include "runner/transient.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

TEST(TransientPatterns, MatchWholeWordsIgnoringCase) {
  const auto& p = default_transient_patterns();
  EXPECT_TRUE(matches_transient_pattern("Error: HTTP 529 Overloaded", p));
  EXPECT_TRUE(matches_transient_pattern("upstream answered 502\n", p));
  EXPECT_TRUE(matches_transient_pattern("read ECONNRESET", p));
  EXPECT_TRUE(matches_transient_pattern("API Rate Limit reached", p));
  EXPECT_FALSE(matches_transient_pattern("error at line 15020", p));
  EXPECT_FALSE(matches_transient_pattern("assertion failed: expected 3, got 4", p));
  EXPECT_FALSE(matches_transient_pattern("", p));
  EXPECT_TRUE(matches_transient_pattern("quota exceeded for project", {"quota exceeded"}));
}

TEST(TailBuffer, KeepsTheLastBytes) {
  TailBuffer tail(8);
  tail.append("hello ");
  tail.append("world");
  EXPECT_EQ(tail.text(), "lo world");
  tail.append("0123456789");
  EXPECT_EQ(tail.text(), "23456789");
  for (char c = 'a'; c <= 'z'; ++c) tail.append(std::string(1, c));  // trimmed in bulk
  EXPECT_EQ(tail.text(), "stuvwxyz");
  tail.append("");
  EXPECT_EQ(tail.text(), "stuvwxyz");
}

}  // namespace
}  // namespace corral

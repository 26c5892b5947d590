// The retry policy of a job spec: defaults, validation, backoff.
#include <gtest/gtest.h>

#include "api/types.h"

namespace corral {
namespace {

json spec_with(json extra) {
  json body{{"command", {"true"}}};
  body.update(extra);
  return body;
}

TEST(RetryPolicy, DefaultsRetryLostTransientAndImagePullWithBackoff) {
  auto spec = parse_job_spec(spec_with(json::object()));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_TRUE(spec->retry.retries(FailureReason::kRunnerLost));
  EXPECT_TRUE(spec->retry.retries(FailureReason::kTransient));
  EXPECT_TRUE(spec->retry.retries(FailureReason::kImagePull));
  EXPECT_FALSE(spec->retry.retries(FailureReason::kExitCode));
  EXPECT_FALSE(spec->retry.retries(FailureReason::kOomKilled));
  EXPECT_EQ(spec->retry.backoff_ms(1), 30'000);
  EXPECT_EQ(spec->retry.backoff_ms(2), 60'000);
  EXPECT_EQ(spec->retry.backoff_ms(3), 90'000);
  EXPECT_EQ(spec->retry.backoff_ms(7), 90'000);  // the last wait repeats
}

TEST(RetryPolicy, ParsesAndRoundTripsThroughJson) {
  auto spec = parse_job_spec(spec_with({{"retry",
                                         {{"max_attempts", 5},
                                          {"backoff_s", {1, 2}},
                                          {"on", {"exit_code", "transient"}},
                                          {"transient_patterns", {"quota exceeded"}}}}}));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->max_attempts, 5);
  EXPECT_TRUE(spec->retry.retries(FailureReason::kExitCode));
  EXPECT_FALSE(spec->retry.retries(FailureReason::kRunnerLost));
  EXPECT_EQ(spec->retry.backoff_ms(2), 2'000);
  auto again = parse_job_spec(to_json(*spec));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->max_attempts, 5);
  EXPECT_EQ(again->retry.on, spec->retry.on);
  EXPECT_EQ(to_json(*spec)["retry"]["on"], json({"transient", "exit_code"}));  // names outside
  EXPECT_EQ(again->retry.backoff_s, spec->retry.backoff_s);
  EXPECT_EQ(again->retry.transient_patterns, std::vector<std::string>{"quota exceeded"});
}

TEST(RetryPolicy, FailureReasonsReadTheirNamesAndARunnersOwnWordsAsOther) {
  for (auto reason : retry_reasons()) EXPECT_EQ(parse_failure_reason(to_string(reason)), reason);
  EXPECT_EQ(parse_failure_reason("policy"), FailureReason::kPolicy);
  EXPECT_EQ(parse_failure_reason(""), FailureReason::kNone);
  EXPECT_EQ(parse_failure_reason("disk on fire"), FailureReason::kOther);
  EXPECT_EQ(parse_failure_reason("other"), FailureReason::kOther);
  // A policy refusal is never retried, even when named.
  RetryPolicy everything;
  everything.on = {FailureReason::kPolicy, FailureReason::kExitCode};
  EXPECT_FALSE(everything.retries(FailureReason::kPolicy));
  EXPECT_TRUE(everything.retries(FailureReason::kExitCode));
}

TEST(RetryPolicy, BadValuesNameTheField) {
  struct Case {
    json retry;
    std::string field;
  };
  for (const auto& c : std::vector<Case>{{{{"on", {"sometimes"}}}, "retry.on"},
                                         {{{"backoff_s", json::array()}}, "retry.backoff_s"},
                                         {{{"backoff_s", {10, -1}}}, "retry.backoff_s[1]"},
                                         {{{"max_attempts", 0}}, "retry.max_attempts"},
                                         {{{"tries", 2}}, "retry.tries"},
                                         {"yes", "retry"}}) {
    auto spec = parse_job_spec(spec_with({{"retry", c.retry}}));
    ASSERT_FALSE(spec.ok()) << c.retry.dump();
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidSpec);
    EXPECT_NE(spec.error().message.find(c.field), std::string::npos) << spec.error().message;
  }
  auto both = parse_job_spec(spec_with({{"max_attempts", 2}, {"retry", {{"max_attempts", 4}}}}));
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.error().message.find("give one of them"), std::string::npos);
}

}  // namespace
}  // namespace corral

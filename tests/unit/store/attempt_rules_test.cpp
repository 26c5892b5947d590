// The pure decisions both stores share (store/attempt_rules.h): the fence, log appends at
// the cap, and what a finish makes of the job.
#include "store/attempt_rules.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

AttemptFence running_attempt() {
  AttemptFence f;
  f.runner_id = "r1";
  f.state = "running";
  f.job_attempt = 2;
  f.job_state = "running";
  return f;
}

TEST(AttemptRules, FenceNamesWhatIsWrong) {
  EXPECT_NE(check_fence(std::nullopt, "r1", "j", 2).error().message.find("does not exist"),
            std::string::npos);
  EXPECT_NE(check_fence(running_attempt(), "r2", "j", 2).error().message.find("another runner"),
            std::string::npos);
  auto stale = running_attempt();
  stale.job_attempt = 3;
  auto e = check_fence(stale, "r1", "j", 2).error();
  EXPECT_EQ(e.code, ErrorCode::kConflict);
  EXPECT_NE(e.message.find("stale: the job is on attempt 3"), std::string::npos) << e.message;
  EXPECT_TRUE(check_fence(running_attempt(), "r1", "j", 2).ok());
}

TEST(AttemptRules, LogAppendRepeatsGapsAndTheCap) {
  auto f = running_attempt();
  f.log_received = f.log_size = 4;
  // A repeat changes nothing; overlapping bytes add only the new part.
  auto repeat = plan_log_append(f, "j", 2, 0, "abcd", 10);
  ASSERT_TRUE(repeat.ok());
  EXPECT_FALSE(repeat->change);
  EXPECT_EQ(repeat->result.next_offset, 4);
  auto overlap = plan_log_append(f, "j", 2, 2, "cdef", 10);
  ASSERT_TRUE(overlap.ok());
  EXPECT_EQ(overlap->result.stored, "ef");
  EXPECT_EQ(overlap->new_received, 6);
  // A gap is a 416 that says where to resume.
  auto gap = plan_log_append(f, "j", 2, 5, "x", 10);
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().code, ErrorCode::kRangeNotSatisfiable);
  EXPECT_EQ(json::parse(gap.error().detail_json)["next_offset"], 4);
  // Past the cap: the bytes are counted, the log keeps what fits and says it was cut.
  auto cut = plan_log_append(f, "j", 2, 4, "0123456789", 10);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->result.stored.substr(0, 6), "012345");
  EXPECT_NE(cut->result.stored.find("log truncated"), std::string::npos);
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->new_received, 14);
  f.log_truncated = true;
  f.log_received = 14;
  auto after = plan_log_append(f, "j", 2, 14, "more", 10);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->result.stored.empty());
  EXPECT_EQ(after->new_received, 18);
  // New bytes for a finished attempt are refused; a repeat of old ones is still fine.
  f.state = "succeeded";
  EXPECT_EQ(plan_log_append(f, "j", 2, 14, "x", 10).error().code, ErrorCode::kConflict);
  EXPECT_TRUE(plan_log_append(f, "j", 2, 0, "x", 10).ok());
}

TEST(AttemptRules, FinishRetriesOnlyWhatThePolicyNamesWhileAttemptsRemain) {
  int reads = 0;
  RetryFacts facts{3, RetryPolicy{}};
  facts.policy.on = {FailureReason::kTransient};
  facts.policy.backoff_s = {30};
  auto read_facts = [&] {
    ++reads;
    return facts;
  };
  FinishReport ok;
  ok.result = json{{"verdict", "lgtm"}};
  auto done = plan_finish(ok, false, 1, 1000, read_facts);
  EXPECT_EQ(done.job_state, "succeeded");
  EXPECT_EQ(*done.result, R"({"verdict":"lgtm"})");
  EXPECT_EQ(reads, 0);  // a success never reads the retry facts

  FinishReport transient;
  transient.state = AttemptState::kFailed;
  transient.reason = "transient";
  auto retry = plan_finish(transient, false, 1, 1000, read_facts);
  EXPECT_TRUE(retry.retry);
  EXPECT_EQ(retry.job_state, "queued");
  EXPECT_EQ(retry.not_before, 31'000);
  EXPECT_EQ(plan_finish(transient, false, 3, 1000, read_facts).job_state, "failed");  // none left

  FinishReport exit_code;
  exit_code.state = AttemptState::kFailed;
  auto failed = plan_finish(exit_code, false, 1, 1000, read_facts);
  EXPECT_FALSE(failed.retry);
  EXPECT_EQ(failed.job_state, "failed");

  auto canceled = plan_finish(transient, true, 1, 1000, read_facts);
  EXPECT_EQ(canceled.job_state, "canceled");
  EXPECT_FALSE(canceled.retry);
}

}  // namespace
}  // namespace corral

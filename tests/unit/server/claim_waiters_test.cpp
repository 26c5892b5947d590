#include "server/claim_waiters.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

Runner runner_with(std::vector<std::string> labels) {
  Runner r;
  r.tenant = "t";
  r.reg.labels = normalize_labels(std::move(labels));
  return r;
}

Job job_with(std::string id, std::vector<std::string> labels) {
  Job j;
  j.id = std::move(id);
  j.tenant = "t";
  j.spec.labels = normalize_labels(std::move(labels));
  return j;
}

class ClaimWaitersTest : public ::testing::Test {
 protected:
  asio::io_context io_;
  ClaimWaiters waiters_;
};

TEST_F(ClaimWaitersTest, WakesTheFirstParkedRunnerThatMayTakeTheJob) {
  auto plain = waiters_.park(io_.get_executor(), runner_with({}));
  auto gpu = waiters_.park(io_.get_executor(), runner_with({"gpu"}));
  EXPECT_TRUE(waiters_.job_available(job_with("j1", {"gpu"})));
  EXPECT_FALSE(waiters_.woken(plain));
  EXPECT_TRUE(waiters_.woken(gpu));
  auto woken_for = waiters_.reset(gpu);
  ASSERT_TRUE(woken_for.has_value());
  EXPECT_EQ(woken_for->id, "j1");
  EXPECT_FALSE(waiters_.woken(gpu));
}

TEST_F(ClaimWaitersTest, NobodyMatchesNobodyWakes) {
  auto plain = waiters_.park(io_.get_executor(), runner_with({}));
  EXPECT_FALSE(waiters_.job_available(job_with("j1", {"windows"})));
  EXPECT_FALSE(waiters_.woken(plain));
}

TEST_F(ClaimWaitersTest, OneJobWakesOneRunnerAndWokenRunnersGoToTheBack) {
  auto a = waiters_.park(io_.get_executor(), runner_with({}));
  auto b = waiters_.park(io_.get_executor(), runner_with({}));
  EXPECT_TRUE(waiters_.job_available(job_with("j1", {})));
  EXPECT_TRUE(waiters_.woken(a));
  EXPECT_FALSE(waiters_.woken(b));
  EXPECT_TRUE(waiters_.job_available(job_with("j2", {})));
  EXPECT_TRUE(waiters_.woken(b));
  // Both are woken now: a third job finds nobody left to wake.
  EXPECT_FALSE(waiters_.job_available(job_with("j3", {})));
  // a re-arms (its claim found nothing) and is next in line after b.
  waiters_.reset(a);
  waiters_.reset(b);
  EXPECT_TRUE(waiters_.job_available(job_with("j4", {})));
  EXPECT_TRUE(waiters_.woken(a));
}

TEST_F(ClaimWaitersTest, PassingAWakeUpOnSkipsTheRunnerThatHadIt) {
  auto a = waiters_.park(io_.get_executor(), runner_with({}));
  auto b = waiters_.park(io_.get_executor(), runner_with({}));
  waiters_.reset(a);
  EXPECT_TRUE(waiters_.job_available(job_with("j1", {}), a.get()));
  EXPECT_FALSE(waiters_.woken(a));
  EXPECT_TRUE(waiters_.woken(b));
}

TEST_F(ClaimWaitersTest, AWakeCancelsTheParkedTimerOnItsExecutor) {
  auto w = waiters_.park(io_.get_executor(), runner_with({}));
  bool completed = false;
  error_code result;
  w->timer.expires_after(std::chrono::hours(1));
  w->timer.async_wait([&](const error_code& ec) {
    completed = true;
    result = ec;
  });
  waiters_.job_available(job_with("j1", {}));
  io_.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(completed);
  EXPECT_EQ(result, asio::error::operation_aborted);
  waiters_.unpark(w);
  EXPECT_EQ(waiters_.parked(), 0u);
}

}  // namespace
}  // namespace corral

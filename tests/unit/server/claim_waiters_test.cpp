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

// A sweep over a deep backlog nobody parked may take asks once per kind of job.
TEST_F(ClaimWaitersTest, AWakePassAsksOncePerKindOfJob) {
  auto plain = waiters_.park(io_.get_executor(), runner_with({}));
  int asked = 0;
  ClaimWaiters::RunnerFilter counting = [&](const Runner&) {
    ++asked;
    return false;
  };
  ClaimWaiters::WakePass pass(waiters_);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(pass.job_available(job_with("gpu-" + std::to_string(i), {"gpu"}), counting));
  EXPECT_EQ(asked, 1);
  EXPECT_FALSE(waiters_.woken(plain));
  // Another kind is asked about, and wakes the runner that may take it.
  EXPECT_TRUE(pass.job_available(job_with("plain", {}), counting));
  EXPECT_TRUE(waiters_.woken(plain));
  // A pass remembers only its own: a new one asks again.
  waiters_.reset(plain);
  ClaimWaiters::WakePass next(waiters_);
  EXPECT_FALSE(next.job_available(job_with("gpu-again", {"gpu"}), counting));
  EXPECT_EQ(asked, 2);
}

// Many parked claims: each unparks from its own place, and a runner's newest claim
// supersedes only its own oldest.
TEST_F(ClaimWaitersTest, UnparkingAndSupersedingTouchOnlyTheirOwnClaims) {
  std::vector<ClaimWaiters::WaiterPtr> parked;
  for (int i = 0; i < 1000; ++i) {
    auto r = runner_with({});
    r.id = "r" + std::to_string(i);
    parked.push_back(waiters_.park(io_.get_executor(), r, 1));
  }
  EXPECT_EQ(waiters_.parked(), 1000u);
  for (int i = 0; i < 1000; i += 2) EXPECT_TRUE(waiters_.unpark(parked[i]).empty());
  EXPECT_EQ(waiters_.parked(), 500u);
  auto again = runner_with({});
  again.id = "r1";
  auto newer = waiters_.park(io_.get_executor(), again, 1);
  EXPECT_TRUE(waiters_.superseded(parked[1]));
  EXPECT_FALSE(waiters_.superseded(parked[3]));
  EXPECT_FALSE(waiters_.superseded(newer));
  EXPECT_EQ(waiters_.parked(), 500u);
  EXPECT_TRUE(waiters_.command_for("r3"));
  EXPECT_TRUE(waiters_.commanded(parked[3]));
  EXPECT_FALSE(waiters_.commanded(parked[5]));
  EXPECT_FALSE(waiters_.command_for("r0"));         // unparked
  EXPECT_TRUE(waiters_.unpark(parked[1]).empty());  // superseded already: nothing to do
  EXPECT_EQ(waiters_.parked(), 500u);
}

TEST_F(ClaimWaitersTest, WakesTheFirstParkedRunnerThatMayTakeTheJob) {
  auto plain = waiters_.park(io_.get_executor(), runner_with({}));
  auto gpu = waiters_.park(io_.get_executor(), runner_with({"gpu"}));
  EXPECT_TRUE(waiters_.job_available(job_with("j1", {"gpu"})));
  EXPECT_FALSE(waiters_.woken(plain));
  EXPECT_TRUE(waiters_.woken(gpu));
  auto wake = waiters_.reset(gpu);
  ASSERT_TRUE(wake.job.has_value());
  EXPECT_EQ(wake.job->id, "j1");
  EXPECT_TRUE(wake.handed.empty());
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
  EXPECT_TRUE(waiters_.unpark(w).empty());
  EXPECT_EQ(waiters_.parked(), 0u);
}

ClaimedJob leased(std::string id) {
  ClaimedJob c;
  c.job_id = std::move(id);
  c.attempt = 1;
  return c;
}

// A submit reserves the first parked claim that may take its job; until it hands over (or
// gives up), no wake-up and no other submit goes to that claim.
TEST_F(ClaimWaitersTest, AReservedClaimIsOutOfLineUntilHandedItsJobs) {
  auto plain = waiters_.park(io_.get_executor(), runner_with({}));
  auto gpu = waiters_.park(io_.get_executor(), runner_with({"gpu"}));
  auto reserved = waiters_.reserve(job_with("j1", {"gpu"}));
  ASSERT_EQ(reserved, gpu);
  EXPECT_FALSE(waiters_.woken(gpu));
  EXPECT_EQ(waiters_.reserve(job_with("j2", {"gpu"})), nullptr);
  EXPECT_FALSE(waiters_.job_available(job_with("j3", {"gpu"})));
  auto since = std::chrono::steady_clock::now() - std::chrono::milliseconds(3);
  EXPECT_TRUE(waiters_.hand_over(gpu, {leased("j1")}, since));
  EXPECT_TRUE(waiters_.woken(gpu));
  EXPECT_FALSE(waiters_.woken(plain));
  auto wake = waiters_.reset(gpu);
  ASSERT_EQ(wake.handed.size(), 1u);
  EXPECT_EQ(wake.handed[0].job_id, "j1");
  EXPECT_EQ(wake.at, since);
  EXPECT_FALSE(wake.job.has_value());
  // Back in line once handed: the next job may wake it.
  EXPECT_TRUE(waiters_.job_available(job_with("j4", {"gpu"})));
  EXPECT_TRUE(waiters_.woken(gpu));
}

TEST_F(ClaimWaitersTest, UnreservingPutsTheClaimBackInLine) {
  auto a = waiters_.park(io_.get_executor(), runner_with({}));
  ASSERT_EQ(waiters_.reserve(job_with("j1", {})), a);
  EXPECT_FALSE(waiters_.job_available(job_with("j2", {})));
  waiters_.unreserve(a);
  EXPECT_TRUE(waiters_.job_available(job_with("j2", {})));
  EXPECT_TRUE(waiters_.woken(a));
}

// Jobs handed to a claim that has ended go to the runner's other parked claim; with none
// the hand-over fails and the submit returns them to the queue.
TEST_F(ClaimWaitersTest, AHandOverToAnEndedClaimGoesToTheRunnersOtherClaimOrFails) {
  auto r = runner_with({});
  r.id = "r1";
  auto first = waiters_.park(io_.get_executor(), r, 2);
  auto second = waiters_.park(io_.get_executor(), r, 2);
  ASSERT_EQ(waiters_.reserve(job_with("j1", {})), first);
  EXPECT_TRUE(waiters_.unpark(first).empty());  // answered meanwhile
  EXPECT_TRUE(waiters_.hand_over(first, {leased("j1")}, std::chrono::steady_clock::now()));
  EXPECT_TRUE(waiters_.woken(second));
  EXPECT_EQ(waiters_.reset(second).handed.size(), 1u);
  ASSERT_EQ(waiters_.reserve(job_with("j2", {})), second);
  EXPECT_TRUE(waiters_.unpark(second).empty());
  EXPECT_FALSE(waiters_.hand_over(second, {leased("j2")}, std::chrono::steady_clock::now()));
}

// A claim handed jobs it has not answered with yet: ending it gives them back to the caller
// (unpark), and a newer claim of the runner superseding it takes them over.
TEST_F(ClaimWaitersTest, UnansweredHandedJobsAreNeitherLostNorAnsweredTwice) {
  auto r = runner_with({});
  r.id = "r1";
  auto w = waiters_.park(io_.get_executor(), r, 1);
  ASSERT_EQ(waiters_.reserve(job_with("j1", {})), w);
  ASSERT_TRUE(waiters_.hand_over(w, {leased("j1")}, std::chrono::steady_clock::now()));
  auto newer = waiters_.park(io_.get_executor(), r, 1);
  EXPECT_TRUE(waiters_.superseded(w));
  EXPECT_TRUE(waiters_.reset(w).handed.empty());
  EXPECT_TRUE(waiters_.woken(newer));
  ASSERT_EQ(waiters_.reserve(job_with("j2", {})), nullptr);  // woken: not in line
  auto wake = waiters_.reset(newer);
  ASSERT_EQ(wake.handed.size(), 1u);
  EXPECT_EQ(wake.handed[0].job_id, "j1");
  ASSERT_EQ(waiters_.reserve(job_with("j2", {})), newer);
  ASSERT_TRUE(waiters_.hand_over(newer, {leased("j2")}, std::chrono::steady_clock::now()));
  auto late = waiters_.unpark(newer);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].job_id, "j2");
  EXPECT_EQ(waiters_.parked(), 0u);
}

}  // namespace
}  // namespace corral

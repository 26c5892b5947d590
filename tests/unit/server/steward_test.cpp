// Steward fallback policy (server/steward.h) with an injected clock: the stale threshold
// exactly, who counts as steward, the submitter's permission, labels still required; and
// the waiters waking a parked steward through the same policy.
#include "server/steward.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/test_values.h"
#include "server/claim_waiters.h"

namespace corral {
namespace {

Runner runner(const std::string& name, const std::string& group, std::vector<std::string> labels,
              TimeMs last_beat) {
  Runner r;
  r.id = "run_" + name;
  r.tenant = "t";
  r.reg.name = name;
  r.reg.group = group;
  r.reg.labels = normalize_labels(std::move(labels));
  r.last_heartbeat_at = last_beat;
  return r;
}

Job repo_job(const std::string& group, std::vector<std::string> labels = {}) {
  Job j;
  j.id = "job_1";
  j.tenant = "t";
  j.owner_token_id = "tok_alice";
  j.state = JobState::kQueued;
  j.repo_name = "o/n";
  j.spec.group = group;
  j.spec.labels = normalize_labels(std::move(labels));
  j.spec.steward_fallback = true;
  return j;
}

RepoMapping mapping_with_runner(const std::string& steward) {
  RepoMapping m;
  m.tenant = "t";
  m.full_name = "o/n";
  m.group = "team";
  m.steward_runner = steward;
  return m;
}

class StewardTest : public ::testing::Test {
 protected:
  StewardFacts facts() const {
    StewardFacts f;
    f.repos = {repo_};
    f.runners = runners_;
    f.owner_allows = owner_allows_;
    f.now = clock_.now_ms();
    f.stale_after_ms = kTestStale;
    return f;
  }
  ManualClock clock_;
  RepoMapping repo_ = mapping_with_runner("steward");
  std::vector<Runner> runners_;
  std::map<std::string, bool> owner_allows_;
};

TEST_F(StewardTest, EligibleOnlyOneMillisecondPastTheThreshold) {
  TimeMs beat = clock_.now_ms();
  runners_ = {runner("team-box", "team", {}, beat), runner("steward", "stewards", {}, beat)};
  auto job = repo_job("team");
  const Runner& steward = runners_[1];
  EXPECT_EQ(steward_verdict(steward, job, facts()), StewardVerdict::kRunnersFresh);
  clock_.advance_ms(kTestStale);  // exactly at the threshold: team-box still counts as alive
  EXPECT_EQ(steward_verdict(steward, job, facts()), StewardVerdict::kRunnersFresh);
  EXPECT_FALSE(steward_may_take(steward, job, facts()));
  clock_.advance_ms(1);  // one millisecond past it
  EXPECT_EQ(steward_verdict(steward, job, facts()), StewardVerdict::kEligible);
  EXPECT_TRUE(steward_may_take(steward, job, facts()));
}

TEST_F(StewardTest, EveryNormalRunnerMustBeStaleAndNoneAtAllCounts) {
  TimeMs start = clock_.now_ms();
  runners_ = {runner("team-a", "team", {}, start), runner("team-b", "team", {}, start + 50'000),
              runner("steward", "stewards", {}, start + 100'000)};
  auto job = repo_job("team");
  clock_.advance_ms(kTestStale + 1);  // team-a stale, team-b not
  EXPECT_EQ(steward_verdict(runners_[2], job, facts()), StewardVerdict::kRunnersFresh);
  clock_.advance_ms(50'000);  // now both
  EXPECT_EQ(steward_verdict(runners_[2], job, facts()), StewardVerdict::kEligible);
  // No runner of the group at all: the steward may take it at once.
  runners_ = {runner("steward", "stewards", {}, clock_.now_ms())};
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kEligible);
}

TEST_F(StewardTest, ADrainingRunnerTakesNoNewWorkSoItDoesNotHoldTheJob) {
  runners_ = {runner("team-box", "team", {}, clock_.now_ms()),
              runner("steward", "stewards", {}, clock_.now_ms())};
  runners_[0].draining = true;
  EXPECT_EQ(steward_verdict(runners_[1], repo_job("team"), facts()), StewardVerdict::kEligible);
}

TEST_F(StewardTest, TheSubmitterMustAllowIt) {
  runners_ = {runner("steward", "stewards", {}, clock_.now_ms())};
  auto job = repo_job("team");
  job.spec.steward_fallback = false;
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNotAllowed);
  // Unset: the user's setting decides.
  job.spec.steward_fallback.reset();
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNotAllowed);
  owner_allows_["tok_alice"] = true;
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kEligible);
  // The job's own false beats the user's true.
  job.spec.steward_fallback = false;
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNotAllowed);
}

TEST_F(StewardTest, StewardByGroupAndOnlyTheNamedOnes) {
  repo_.steward_runner.clear();
  repo_.steward_group = "stewards";
  runners_ = {runner("s1", "stewards", {}, clock_.now_ms()),
              runner("other", "elsewhere", {}, clock_.now_ms())};
  auto job = repo_job("team");
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kEligible);
  EXPECT_EQ(steward_verdict(runners_[1], job, facts()), StewardVerdict::kNotSteward);
  // A job of another repository, or of none, has no steward.
  job.repo_name = "o/other";
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNoSteward);
  job.repo_name.clear();
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNoSteward);
}

TEST_F(StewardTest, LabelsAndTenantStillHold) {
  runners_ = {runner("steward", "stewards", {"linux"}, clock_.now_ms())};
  auto job = repo_job("team", {"gpu", "linux"});
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kCannot);
  EXPECT_FALSE(may_claim(runners_[0], job, facts()));
  runners_[0].reg.labels = {"gpu", "linux"};
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kEligible);
  Runner foreign = runners_[0];
  foreign.tenant = "other";
  EXPECT_NE(steward_verdict(foreign, job, facts()), StewardVerdict::kEligible);
}

TEST_F(StewardTest, ModeAndOwnerOnlyGapsAreOverriddenToo) {
  runners_ = {runner("steward", "team", {}, clock_.now_ms())};
  runners_[0].reg.modes = {"ci"};
  runners_[0].reg.owner_only = true;
  runners_[0].owner_token_id = "tok_bob";
  auto job = repo_job("team");
  job.spec.type = "review";
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kEligible);
  EXPECT_TRUE(may_claim(runners_[0], job, facts()));
  // A steward that may take the job anyway needs no fallback.
  runners_[0].reg.modes = {"all"};
  runners_[0].reg.owner_only = false;
  EXPECT_EQ(steward_verdict(runners_[0], job, facts()), StewardVerdict::kNotNeeded);
}

TEST_F(StewardTest, AStaleRunnersClaimTakesNothing) {
  runners_ = {runner("team-box", "team", {}, clock_.now_ms())};
  auto job = repo_job("team");
  EXPECT_TRUE(may_claim(runners_[0], job, facts()));
  clock_.advance_ms(kTestStale);
  EXPECT_TRUE(may_claim(runners_[0], job, facts()));
  clock_.advance_ms(1);
  EXPECT_FALSE(may_claim(runners_[0], job, facts()));
}

TEST_F(StewardTest, TheWaitersWakeAParkedStewardThroughThePolicy) {
  asio::io_context io;
  runners_ = {runner("team-box", "team", {}, clock_.now_ms()),
              runner("steward", "stewards", {}, clock_.now_ms())};
  ClaimWaiters waiters;
  auto parked = waiters.park(io.get_executor(), runners_[1]);
  auto job = repo_job("team");
  auto steward_filter = [&](const StewardFacts& f) {
    return [&job, f](const Runner& r) { return steward_may_take(r, job, f); };
  };
  EXPECT_FALSE(waiters.job_available(job));  // the normal rules: not the steward's
  EXPECT_FALSE(waiters.job_available(job, nullptr, steward_filter(facts())));  // team-box is alive
  clock_.advance_ms(kTestStale + 1);
  EXPECT_TRUE(waiters.job_available(job, nullptr, steward_filter(facts())));
  EXPECT_TRUE(waiters.woken(parked));
  EXPECT_TRUE(waiters.unpark(parked).empty());
}

}  // namespace
}  // namespace corral

// explain_wait for jobs of a repository with a steward (server/steward.h): what `why` says
// when fallback applies, will apply, is not allowed, or has no steward to go to.
#include <gtest/gtest.h>

#include "common/test_values.h"
#include "server/why.h"

namespace corral {
namespace {

Runner runner(const std::string& name, const std::string& group, TimeMs last_beat,
              RunnerStatus status = RunnerStatus::kIdle) {
  Runner r;
  r.id = "run_" + name;
  r.tenant = "t";
  r.reg.name = name;
  r.reg.group = group;
  r.status = status;
  r.last_heartbeat_at = last_beat;
  return r;
}

Job repo_job(std::optional<bool> fallback) {
  Job j;
  j.id = "job_1";
  j.tenant = "t";
  j.owner_token_id = "tok_alice";
  j.state = JobState::kQueued;
  j.repo_name = "o/n";
  j.spec.group = "team";
  j.spec.steward_fallback = fallback;
  return j;
}

StewardFacts facts(const std::vector<Runner>& runners, bool owner_allows = false) {
  StewardFacts f;
  RepoMapping m;
  m.tenant = "t";
  m.full_name = "o/n";
  m.group = "team";
  m.steward_runner = "steward";
  f.repos = {m};
  f.runners = runners;
  f.owner_allows["tok_alice"] = owner_allows;
  f.now = kTestNow;
  f.stale_after_ms = kTestStale;
  return f;
}

std::string summary(const json& why) {
  return why["summary"].get<std::string>();
}

TEST(WhySteward, StaleMatchingRunnersAndAStewardThatMayTakeIt) {
  std::vector<Runner> runners{
      runner("team-box", "team", kTestNow - kTestStale - 1, RunnerStatus::kOffline),
      runner("steward", "stewards", kTestNow)};
  auto f = facts(runners);
  auto why = explain_wait({repo_job(true), runners, {}, kTestNow, &f});
  EXPECT_EQ(why["reasons"][0]["code"], "steward_fallback") << why.dump();
  EXPECT_NE(
      summary(why).find(
          "matching runners stale (no heartbeat for over 90 s): team-box (last seen 90 s ago)"),
      std::string::npos)
      << summary(why);
  EXPECT_NE(summary(why).find("steward runner steward may take it"), std::string::npos)
      << summary(why);
}

TEST(WhySteward, NotAllowedByTheSubmitterSaysHowToAllowIt) {
  std::vector<Runner> runners{
      runner("team-box", "team", kTestNow - kTestStale - 1, RunnerStatus::kOffline),
      runner("steward", "stewards", kTestNow)};
  auto f = facts(runners);
  auto why = explain_wait({repo_job(std::nullopt), runners, {}, kTestNow, &f});
  EXPECT_EQ(why["reasons"][0]["code"], "steward_fallback_not_allowed") << why.dump();
  EXPECT_NE(summary(why).find("steward fallback is not allowed by the submitter"),
            std::string::npos);
  EXPECT_NE(summary(why).find("corral settings --steward-fallback on"), std::string::npos);
  // The user's setting allows it when the job leaves it unset.
  auto allowed = facts(runners, true);
  EXPECT_EQ(
      explain_wait({repo_job(std::nullopt), runners, {}, kTestNow, &allowed})["reasons"][0]["code"],
      "steward_fallback");
}

TEST(WhySteward, OfflineButNotYetStaleSaysWhenTheStewardMayTakeIt) {
  std::vector<Runner> runners{runner("team-box", "team", kTestNow - 40'000, RunnerStatus::kOffline),
                              runner("steward", "stewards", kTestNow)};
  auto f = facts(runners);
  auto why = explain_wait({repo_job(true), runners, {}, kTestNow, &f});
  EXPECT_EQ(why["reasons"][0]["code"], "steward_fallback_pending") << why.dump();
  EXPECT_NE(summary(why).find("steward runner steward may take it from " +
                              format_time(kTestNow - 40'000 + kTestStale + 1)),
            std::string::npos)
      << summary(why);
  EXPECT_NE(summary(why).find("in 51 s"), std::string::npos) << summary(why);
}

TEST(WhySteward, NothingToSayWhileAMatchingRunnerIsAlive) {
  std::vector<Runner> runners{runner("team-box", "team", kTestNow - 1'000),
                              runner("steward", "stewards", kTestNow)};
  auto f = facts(runners);
  auto why = explain_wait({repo_job(true), runners, {}, kTestNow, &f});
  for (const auto& r : why["reasons"])
    EXPECT_EQ(r["code"].get<std::string>().rfind("steward", 0), std::string::npos);
}

TEST(WhySteward, NoStewardRunnerRegistered) {
  std::vector<Runner> runners{
      runner("team-box", "team", kTestNow - kTestStale - 1, RunnerStatus::kOffline)};
  auto f = facts(runners);
  auto why = explain_wait({repo_job(true), runners, {}, kTestNow, &f});
  EXPECT_EQ(why["reasons"][0]["code"], "steward_unavailable") << why.dump();
  EXPECT_NE(summary(why).find("no such runner is registered"), std::string::npos) << summary(why);
}

}  // namespace
}  // namespace corral

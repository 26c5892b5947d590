// explain_wait: each reason a queued job can have, from plain facts.
#include "server/why.h"

#include <gtest/gtest.h>

#include "common/test_values.h"

namespace corral {
namespace {

Runner runner(const std::string& name, std::vector<std::string> labels,
              RunnerStatus status = RunnerStatus::kIdle, int slots = 1, int running = 0) {
  Runner r;
  r.id = "run_" + name;
  r.tenant = "t";
  r.reg.name = name;
  r.reg.labels = normalize_labels(std::move(labels));
  r.reg.max_concurrent_jobs = slots;
  r.status = status;
  r.last_heartbeat_at = kTestNow - 95'000;
  for (int i = 0; i < running; ++i) r.running.push_back({"job_x" + std::to_string(i), 1});
  return r;
}

Job queued_job(std::vector<std::string> labels) {
  Job j;
  j.id = "job_1";
  j.tenant = "t";
  j.state = JobState::kQueued;
  j.spec.labels = normalize_labels(std::move(labels));
  return j;
}

std::string first_code(const json& why) {
  return why["reasons"][0]["code"];
}

TEST(Why, NoRunnerHasTheLabelsNamesTheClosestAndWhatItLacks) {
  auto job = queued_job({"gpu", "linux"});
  std::vector<Runner> runners{runner("cpu-box", {"linux"}), runner("mac", {"macos"})};
  auto why = explain_wait({job, runners, {}, kTestNow});
  EXPECT_EQ(first_code(why), "no_matching_runner");
  EXPECT_EQ(why["reasons"][0]["runners"][0]["name"], "cpu-box");  // lacks one label, not two
  EXPECT_NE(why["summary"].get<std::string>().find("cpu-box lacks labels [gpu]"), std::string::npos)
      << why["summary"];
  EXPECT_EQ(why["matching_runners"]["total"], 0);
}

TEST(Why, WrongGroupAndModeAreSaid) {
  auto job = queued_job({});
  job.spec.group = "gpu-pool";
  job.spec.type = "review";
  auto r = runner("ci", {});
  r.reg.modes = {"ci"};
  std::vector<Runner> runners{r};
  auto why = explain_wait({job, runners, {}, kTestNow});
  std::string summary = why["summary"];
  EXPECT_NE(summary.find("is in group 'default', not 'gpu-pool'"), std::string::npos) << summary;
  EXPECT_NE(summary.find("takes only [ci] jobs, not 'review'"), std::string::npos) << summary;
}

TEST(Why, MatchingRunnersOfflineAreNamedWithLastSeen) {
  auto job = queued_job({"linux"});
  std::vector<Runner> runners{runner("a", {"linux"}, RunnerStatus::kOffline)};
  auto why = explain_wait({job, runners, {}, kTestNow});
  EXPECT_EQ(first_code(why), "runners_offline");
  EXPECT_NE(why["summary"].get<std::string>().find("a (last seen 95 s ago)"), std::string::npos)
      << why["summary"];
}

TEST(Why, AllBusyCountsSlots) {
  auto job = queued_job({});
  std::vector<Runner> runners{runner("a", {}, RunnerStatus::kBusy, 2, 2),
                              runner("b", {}, RunnerStatus::kBusy, 1, 1)};
  auto why = explain_wait({job, runners, {0, 4}, kTestNow});
  EXPECT_EQ(first_code(why), "runners_busy");
  EXPECT_NE(why["summary"].get<std::string>().find("3/3 slots"), std::string::npos)
      << why["summary"];
  EXPECT_EQ(why["position"], 4);
}

TEST(Why, BackoffComesFirstWithItsTime) {
  auto job = queued_job({});
  job.not_before = kTestNow + 30'000;
  job.reason = "transient";
  std::vector<Runner> runners{runner("a", {})};
  auto why = explain_wait({job, runners, {}, kTestNow});
  EXPECT_EQ(first_code(why), "backoff");
  EXPECT_NE(why["summary"].get<std::string>().find("30 s from now"), std::string::npos);
  EXPECT_FALSE(why["not_before"].is_null());
}

TEST(Why, BehindHigherPriorityAndReady) {
  auto job = queued_job({});
  std::vector<Runner> runners{runner("a", {})};
  EXPECT_EQ(first_code(explain_wait({job, runners, {3, 0}, kTestNow})), "behind_higher_priority");
  EXPECT_EQ(first_code(explain_wait({job, runners, {0, 2}, kTestNow})), "behind_older");
  EXPECT_EQ(first_code(explain_wait({job, runners, {0, 0}, kTestNow})), "ready");
  std::vector<Runner> none;
  EXPECT_EQ(first_code(explain_wait({job, none, {}, kTestNow})), "no_runners");
}

TEST(Why, NotWaitingSaysWhereTheJobIs) {
  auto job = queued_job({});
  job.state = JobState::kRunning;
  Attempt a;
  a.number = 2;
  a.runner_name = "box";
  job.attempts.push_back(a);
  std::vector<Runner> runners;
  auto why = explain_wait({job, runners, {}, kTestNow});
  EXPECT_FALSE(why["waiting"].get<bool>());
  EXPECT_EQ(why["summary"], "the job is running on box (attempt 2)");
}

}  // namespace
}  // namespace corral

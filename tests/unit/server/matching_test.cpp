#include "server/matching.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

Runner runner(std::vector<std::string> labels, std::string group = "default",
              std::vector<std::string> modes = {"all"}) {
  Runner r;
  r.tenant = "t";
  r.reg.labels = normalize_labels(std::move(labels));
  r.reg.group = std::move(group);
  r.reg.modes = std::move(modes);
  return r;
}

Job job(std::vector<std::string> labels, std::string group = "", std::string type = "") {
  Job j;
  j.tenant = "t";
  j.spec.labels = normalize_labels(std::move(labels));
  j.spec.group = std::move(group);
  j.spec.type = std::move(type);
  return j;
}

TEST(Matching, EveryJobLabelMustBeAmongTheRunners) {
  auto r = runner({"self-hosted", "linux", "x64"});
  EXPECT_TRUE(runner_can_take(r, job({})));
  EXPECT_TRUE(runner_can_take(r, job({"linux"})));
  EXPECT_TRUE(runner_can_take(r, job({"x64", "self-hosted", "linux"})));
  EXPECT_FALSE(runner_can_take(r, job({"linux", "gpu"})));
  EXPECT_FALSE(runner_can_take(runner({}), job({"linux"})));
}

TEST(Matching, GroupIsRequiredOnlyWhenTheJobNamesOne) {
  auto r = runner({}, "reviews");
  EXPECT_TRUE(runner_can_take(r, job({})));
  EXPECT_TRUE(runner_can_take(r, job({}, "reviews")));
  EXPECT_FALSE(runner_can_take(r, job({}, "builds")));
}

TEST(Matching, ModesLimitJobTypes) {
  auto reviewer = runner({}, "default", {"review", "chat"});
  EXPECT_TRUE(runner_can_take(reviewer, job({}, "", "review")));
  EXPECT_FALSE(runner_can_take(reviewer, job({}, "", "ci")));
  EXPECT_TRUE(runner_can_take(reviewer, job({}, "", "")));
  EXPECT_TRUE(runner_can_take(runner({}), job({}, "", "ci")));
}

TEST(Matching, NeverAcrossTenants) {
  auto r = runner({});
  auto j = job({});
  j.tenant = "other";
  EXPECT_FALSE(runner_can_take(r, j));
}

}  // namespace
}  // namespace corral

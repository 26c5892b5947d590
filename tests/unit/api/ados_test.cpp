// ADOS Work Runner's view of a runner (GET /api/runners, api/ados.h).
#include "api/ados.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

Runner ados_runner(RunnerStatus status) {
  Runner r;
  r.id = "runner_1";
  r.reg.name = "ados-7";
  r.reg.group = "gpu";
  r.reg.system.cpus = 8;
  r.reg.system.memory_bytes = int64_t{16} << 30;
  r.reg.system.hostname = "host-a";
  r.status = status;
  r.registered_at = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  return r;
}

TEST(AdosRunnerView, HasExactlyAdosFields) {
  json j = to_ados_json(ados_runner(RunnerStatus::kIdle));
  EXPECT_EQ(j, (json{{"id", "ados-7"},
                     {"group", "gpu"},
                     {"status", "connected"},
                     {"hostname", "host-a"},
                     {"cpus", 8},
                     {"memory", int64_t{16} << 30},
                     {"connected_at", "2023-11-14T22:13:20.000Z"}}));
}

TEST(AdosRunnerView, StatusIsConnectedBusyOrOffline) {
  EXPECT_EQ(to_ados_json(ados_runner(RunnerStatus::kBusy))["status"], "busy");
  EXPECT_EQ(to_ados_json(ados_runner(RunnerStatus::kOffline))["status"], "offline");
  Runner draining = ados_runner(RunnerStatus::kDraining);
  EXPECT_EQ(to_ados_json(draining)["status"], "connected");
  draining.running.push_back({"job_1", 1});  // still finishing a job
  EXPECT_EQ(to_ados_json(draining)["status"], "busy");
}

TEST(AdosRunnerView, CpusAndMemoryAreTheJobLimitsWhenTheRunnerSetsThem) {
  Runner r = ados_runner(RunnerStatus::kIdle);
  r.reg.capabilities = {{"policy", {{"cpus", 2.5}, {"memory_bytes", int64_t{3} << 30}}}};
  json j = to_ados_json(r);
  EXPECT_EQ(j["cpus"], 2.5);
  EXPECT_EQ(j["memory"], int64_t{3} << 30);
  // "unlimited" (0): the host's figures.
  r.reg.capabilities = {{"policy", {{"cpus", 0}, {"memory_bytes", 0}}}};
  j = to_ados_json(r);
  EXPECT_EQ(j["cpus"], 8);
  EXPECT_EQ(j["memory"], int64_t{16} << 30);
  EXPECT_TRUE(to_ados_json(Runner{})["connected_at"].is_null());
}

// Monk CI's RUNNER_DESCRIPTION reaches the server in the registration.
TEST(RunnerRegistrationDescription, IsReadAndBounded) {
  auto reg = parse_runner_registration({{"name", "monk-1"}, {"description", "builds the docs"}});
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  EXPECT_EQ(reg->description, "builds the docs");
  EXPECT_EQ(parse_runner_registration({{"name", "monk-1"}})->description, "");
  auto long_one =
      parse_runner_registration({{"name", "m"}, {"description", std::string(1025, 'x')}});
  ASSERT_FALSE(long_one.ok());
  EXPECT_NE(long_one.error().message.find("description"), std::string::npos);
  EXPECT_FALSE(parse_runner_registration({{"name", "m"}, {"description", 7}}).ok());
}

}  // namespace
}  // namespace corral

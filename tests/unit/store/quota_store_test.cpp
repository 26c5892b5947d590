// The counts behind the per-tenant quotas (--max-queued-per-tenant, --max-schedules-per-tenant;
// docs/security.md, Server limits), on SQLite and PostgreSQL (store_backends.h).
#include <gtest/gtest.h>

#include "api/schedule.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/test_values.h"
#include "store_backends.h"

namespace corral {
namespace {

class QuotaStoreTest : public testing::StoreBackendTest {
 protected:
  Job new_job(const std::string& tenant, const std::string& idempotency_key = "") {
    Job job;
    job.id = new_id("job");
    job.tenant = tenant;
    job.owner_token_id = "owner";
    job.spec.command = {"true"};
    job.created_at = clock_.now_ms();
    job.idempotency_key = idempotency_key;
    return job;
  }

  Job submit_to(const std::string& tenant) {
    auto r = store_->create_job(new_job(tenant), kNoJobCap);
    EXPECT_TRUE(r.ok());
    return r->job;
  }

  int64_t unfinished(const std::string& tenant) {
    auto n = store_->count_unfinished_jobs(tenant);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : -1;
  }

  int64_t schedules(const std::string& tenant) {
    auto n = store_->count_schedules(tenant);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : -1;
  }

  void create_schedule(const std::string& tenant, const std::string& name) {
    auto spec =
        parse_schedule_spec({{"name", name}, {"cron", "@hourly"}, {"job", {{"script", "true"}}}});
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    ASSERT_TRUE(
        store_->create_schedule(new_schedule(tenant, "owner", *spec, clock_.now_ms())).ok());
  }

  ManualClock clock_;
};

TEST_P(QuotaStoreTest, UnfinishedJobsCountQueuedLeasedAndRunningOfOneTenant) {
  EXPECT_EQ(unfinished("t1"), 0);
  auto first = submit_to("t1");
  auto second = submit_to("t1");
  submit_to("t1");
  submit_to("t2");
  EXPECT_EQ(unfinished("t1"), 3);
  EXPECT_EQ(unfinished("t2"), 1);

  Token token = {};
  token.id = new_id("tok");
  token.kind = TokenKind::kRunner;
  token.tenant = "t1";
  token.name = "runner";
  token.hash = sha256_hex(token.id);
  token.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->insert_token(token).ok());
  RunnerRegistration reg;
  reg.name = "r1";
  auto runner =
      store_->register_runner("t1", token.id, reg, sha256_hex("r1-secret"), clock_.now_ms());
  ASSERT_TRUE(runner.ok()) << runner.error().message;
  auto claimed = store_->claim(runner->id, 1, clock_.now_ms(), kTestLease, kAnyJob);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const auto& leased = claimed->front();
  EXPECT_EQ(unfinished("t1"), 3);  // leased still counts
  ASSERT_TRUE(
      store_->start_attempt(runner->id, leased.job_id, leased.attempt, clock_.now_ms()).ok());
  EXPECT_EQ(unfinished("t1"), 3);  // running too
  FinishReport report;
  report.state = AttemptState::kSucceeded;
  report.exit_code = 0;
  ASSERT_TRUE(
      store_->finish_attempt(runner->id, leased.job_id, leased.attempt, report, clock_.now_ms())
          .ok());
  EXPECT_EQ(unfinished("t1"), 2);
  std::string queued = leased.job_id == first.id ? second.id : first.id;
  ASSERT_TRUE(store_->cancel_job("t1", queued, clock_.now_ms()).ok());
  EXPECT_EQ(unfinished("t1"), 1);
  EXPECT_EQ(unfinished("t2"), 1);
}

TEST_P(QuotaStoreTest, TheCapOnUnfinishedJobsIsCheckedWithTheInsert) {
  auto make = [&](const std::string& tenant, const std::string& key) {
    return new_job(tenant, key);
  };
  ASSERT_TRUE(store_->create_job(make("t1", "first"), 2).ok());
  ASSERT_TRUE(store_->create_job(make("t1", ""), 2).ok());
  auto refused = store_->create_job(make("t1", ""), 2);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(json::parse(refused.error().detail_json)["unfinished"], 2);
  EXPECT_EQ(unfinished("t1"), 2);
  // A repeat of an accepted submit is answered with its job, at the cap or not.
  auto repeat = store_->create_job(make("t1", "first"), 2);
  ASSERT_TRUE(repeat.ok()) << repeat.error().message;
  EXPECT_FALSE(repeat->created);
  // Another tenant has its own count; no cap, no refusal.
  EXPECT_TRUE(store_->create_job(make("t2", ""), 2).ok());
  EXPECT_TRUE(store_->create_job(make("t1", ""), kNoJobCap).ok());
  EXPECT_EQ(unfinished("t1"), 3);
  // A batch past the cap stores none of its jobs.
  auto batch = store_->create_jobs({make("t2", ""), make("t2", "")}, 2);
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(json::parse(batch.error().detail_json)["unfinished"], 1);
  EXPECT_EQ(unfinished("t2"), 1);
  // ... and a batch within it stores them all.
  EXPECT_TRUE(store_->create_jobs({make("t2", "")}, 2).ok());
  EXPECT_EQ(unfinished("t2"), 2);
}

TEST_P(QuotaStoreTest, SchedulesCountPausedOnesOfOneTenant) {
  EXPECT_EQ(schedules("t1"), 0);
  create_schedule("t1", "a");
  create_schedule("t1", "b");
  create_schedule("t2", "a");
  ASSERT_TRUE(store_->set_schedule_paused("t1", "a", true, clock_.now_ms()).ok());
  EXPECT_EQ(schedules("t1"), 2);
  EXPECT_EQ(schedules("t2"), 1);
  ASSERT_TRUE(store_->delete_schedule("t1", "b").ok());
  EXPECT_EQ(schedules("t1"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, QuotaStoreTest, testing::kStoreBackends, testing::backend_name);

}  // namespace
}  // namespace corral

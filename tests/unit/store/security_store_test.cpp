// Security rules the stores keep (SQLite and PostgreSQL, store_backends.h): a runner name
// belongs to its registration token, an admin's drain outlives re-registration, deleting a
// runner requeues its jobs, revoking a token takes what it vouched for with it, and secret
// values live beside a job only until it ends.
#include <gtest/gtest.h>

#include "api/schedule.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/test_values.h"
#include "store_backends.h"

namespace corral {
namespace {

class SecurityStoreTest : public testing::StoreBackendTest {
 protected:
  Token token(TokenKind kind, const std::string& created_by, const std::string& name = "t") {
    Token t = {};
    t.id = new_id("tok");
    t.kind = kind;
    t.tenant = "t1";
    t.name = name;
    t.hash = sha256_hex(t.id);
    t.created_at = clock_.now_ms();
    t.created_by = created_by;
    EXPECT_TRUE(store_->insert_token(t).ok());
    return t;
  }

  Result<Runner> register_runner(const std::string& name, const std::string& token_id) {
    RunnerRegistration reg;
    reg.name = name;
    return store_->register_runner("t1", token_id, reg, sha256_hex(name + token_id + random_hex(4)),
                                   clock_.now_ms());
  }

  Job submit(std::map<std::string, std::string> secrets = {}, int max_attempts = 3) {
    Job job;
    job.id = new_id("job");
    job.tenant = "t1";
    job.owner_token_id = "user";
    job.spec.command = {"env"};
    job.spec.secrets = std::move(secrets);
    job.spec.max_attempts = max_attempts;
    job.created_at = clock_.now_ms();
    auto r = store_->create_job(job, kNoJobCap);
    EXPECT_TRUE(r.ok());
    return r->job;
  }

  std::vector<ClaimedJob> claim(const Runner& r) {
    auto c = store_->claim(r.id, 1, clock_.now_ms(), kTestLease, kAnyJob);
    EXPECT_TRUE(c.ok());
    return c.ok() ? c.value() : std::vector<ClaimedJob>{};
  }

  ManualClock clock_;
};

TEST_P(SecurityStoreTest, ARunnerNameBelongsToTheTokenThatRegisteredIt) {
  Token admin = token(TokenKind::kAdmin, "");
  Token team = token(TokenKind::kRunner, admin.id);
  Token other = token(TokenKind::kRunner, "user-x");
  auto first = register_runner("team-box", team.id);
  ASSERT_TRUE(first.ok());
  auto restart = register_runner("team-box", team.id);
  ASSERT_TRUE(restart.ok());
  EXPECT_EQ(restart->id, first->id);
  EXPECT_NE(restart->secret_hash, first->secret_hash);
  auto takeover = register_runner("team-box", other.id);
  ASSERT_FALSE(takeover.ok());
  EXPECT_EQ(takeover.error().code, ErrorCode::kConflict);
  EXPECT_NE(takeover.error().message.find(first->id), std::string::npos);
  // Nothing about the runner changed: its secret still works.
  auto found = store_->find_runner_by_secret_hash(restart->secret_hash);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(found->value().token_id, team.id);
}

TEST_P(SecurityStoreTest, AnAdminsDrainOutlivesReRegistrationUntilResumed) {
  Token reg = token(TokenKind::kRunner, "admin");
  auto runner = register_runner("box", reg.id);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE(store_->drain_runner("t1", runner->id).ok());
  auto again = register_runner("box", reg.id);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->draining);
  EXPECT_EQ(again->status, RunnerStatus::kDraining);
  submit();
  EXPECT_TRUE(claim(*again).empty());
  auto resumed = store_->resume_runner("t1", runner->id);
  ASSERT_TRUE(resumed.ok());
  EXPECT_FALSE(resumed->draining);
  EXPECT_EQ(claim(*resumed).size(), 1u);
  // A drain the runner asked for itself (going away) ends when it registers again.
  HeartbeatReport bye;
  bye.going_away = true;
  ASSERT_TRUE(store_->heartbeat(runner->id, bye, clock_.now_ms(), kTestLease).ok());
  auto back = register_runner("box", reg.id);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->draining);
  EXPECT_FALSE(store_->resume_runner("t2", runner->id).ok());  // another tenant's: not found
}

TEST_P(SecurityStoreTest, DeletingARunnerRequeuesItsJobsAndVoidsItsSecret) {
  Token reg = token(TokenKind::kRunner, "admin");
  auto runner = register_runner("box", reg.id);
  ASSERT_TRUE(runner.ok());
  Job job = submit();
  ASSERT_EQ(claim(*runner).size(), 1u);
  EXPECT_FALSE(store_->delete_runner("t2", runner->id, clock_.now_ms()).ok());  // not its tenant
  auto removed = store_->delete_runner("t1", runner->id, clock_.now_ms());
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->first.id, runner->id);
  EXPECT_EQ(removed->second, std::vector<std::string>{job.id});
  auto requeued = store_->get_job("t1", job.id);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->state, JobState::kQueued);
  EXPECT_EQ(requeued->attempts.at(0).state, AttemptState::kLost);
  auto found = store_->find_runner_by_secret_hash(runner->secret_hash);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(store_->get_runner(runner->id).error().code, ErrorCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(register_runner("box", token(TokenKind::kRunner, "admin").id).ok());
}

TEST_P(SecurityStoreTest, RevokingATokenTakesItsRunnerTokensRunnersAndSchedulesWithIt) {
  Token user = token(TokenKind::kUser, "admin");
  Token made = token(TokenKind::kRunner, user.id);
  Token unrelated = token(TokenKind::kRunner, "admin");
  auto mine = register_runner("mine", made.id);
  auto theirs = register_runner("theirs", unrelated.id);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  Job job = submit();
  ASSERT_EQ(claim(*mine).size(), 1u);
  auto spec = parse_schedule_spec(
      {{"name", "nightly"}, {"cron", "0 3 * * *"}, {"job", {{"command", {"true"}}}}});
  ASSERT_TRUE(spec.ok());
  auto schedule = store_->create_schedule(new_schedule("t1", user.id, *spec, clock_.now_ms()));
  ASSERT_TRUE(schedule.ok());

  auto revoked = store_->revoke_token(user.id, clock_.now_ms());
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_GT(revoked->token.revoked_at, 0);
  EXPECT_EQ(revoked->runner_tokens, std::vector<std::string>{made.id});
  EXPECT_EQ(revoked->runners, std::vector<std::string>{mine->id});
  EXPECT_EQ(revoked->schedules, std::vector<std::string>{schedule->id});
  EXPECT_EQ(revoked->requeued_jobs, std::vector<std::string>{job.id});

  EXPECT_GT(store_->get_token(made.id)->revoked_at, 0);
  EXPECT_EQ(store_->get_token(unrelated.id)->revoked_at, 0);
  EXPECT_FALSE(store_->find_runner_by_secret_hash(mine->secret_hash)->has_value());
  EXPECT_TRUE(store_->find_runner_by_secret_hash(theirs->secret_hash)->has_value());
  EXPECT_EQ(store_->get_job("t1", job.id)->state, JobState::kQueued);
  auto paused = store_->get_schedule("t1", "nightly");
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(paused->paused);
  EXPECT_NE(paused->paused_reason.find("revoked"), std::string::npos);
  // The revoked runner keeps its name: another token cannot take it over.
  auto takeover = register_runner("mine", unrelated.id);
  ASSERT_FALSE(takeover.ok());
  EXPECT_EQ(takeover.error().code, ErrorCode::kConflict);
  // Revoking again finds nothing new.
  auto again = store_->revoke_token(user.id, clock_.now_ms());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->runners.empty());
  EXPECT_TRUE(again->schedules.empty());
  EXPECT_EQ(store_->revoke_token("tok_nope", clock_.now_ms()).error().code, ErrorCode::kNotFound);
}

TEST_P(SecurityStoreTest, SecretsReachOnlyTheClaimAndGoWhenTheJobEnds) {
  Token reg = token(TokenKind::kRunner, "admin");
  auto runner = register_runner("box", reg.id);
  ASSERT_TRUE(runner.ok());
  Job job = submit({{"API_KEY", "s3cr3t"}, {"OTHER", "two"}});
  auto stored = store_->get_job("t1", job.id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->spec.secrets.size(), 2u);
  for (const auto& [name, value] : stored->spec.secrets) EXPECT_EQ(value, "") << name;
  EXPECT_EQ(to_json(*stored).dump().find("s3cr3t"), std::string::npos);

  auto claimed = claim(*runner);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].spec.secrets.at("API_KEY"), "s3cr3t");
  EXPECT_EQ(claimed[0].spec.secrets.at("OTHER"), "two");
  EXPECT_EQ(to_json(claimed[0])["secrets"]["API_KEY"], "s3cr3t");

  // A lost attempt keeps them (the job runs again) ...
  auto removed = store_->delete_runner("t1", runner->id, clock_.now_ms());
  ASSERT_TRUE(removed.ok());
  auto second = register_runner("box2", reg.id);
  ASSERT_TRUE(second.ok());
  auto again = claim(*second);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].spec.secrets.at("API_KEY"), "s3cr3t");
  // ... the end of the job does not: the names stay, the values are gone from the store.
  ASSERT_TRUE(store_->start_attempt(second->id, job.id, again[0].attempt, clock_.now_ms()).ok());
  FinishReport report;
  report.state = AttemptState::kSucceeded;
  report.exit_code = 0;
  ASSERT_TRUE(
      store_->finish_attempt(second->id, job.id, again[0].attempt, report, clock_.now_ms()).ok());
  auto done = store_->get_job("t1", job.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->spec.secrets.size(), 2u);
  Job again_job = submit({{"API_KEY", "other-job"}});  // another job's values stay
  auto third = register_runner("box3", reg.id);
  auto next = claim(*third);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].spec.secrets.at("API_KEY"), "other-job");
  EXPECT_EQ(count_rows("job_secrets"), 1);
  auto canceled = store_->cancel_job("t1", again_job.id, clock_.now_ms());
  ASSERT_TRUE(canceled.ok());
  // What is left in the store: nothing of either job once both ended.
  EXPECT_EQ(count_rows("job_secrets"), 0);
}

TEST_P(SecurityStoreTest, ScheduleSecretsReachEachJobItMakes) {
  auto spec = parse_schedule_spec(
      {{"name", "nightly"},
       {"cron", "* * * * *"},
       {"job", {{"command", {"true"}}, {"secrets", {{"TOKEN", "sch-s3cr3t"}}}}}});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto schedule = store_->create_schedule(new_schedule("t1", "owner", *spec, clock_.now_ms()));
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(to_json(*schedule).dump().find("sch-s3cr3t"), std::string::npos);
  EXPECT_EQ(to_json(*schedule)["job"]["secrets"], json({"TOKEN"}));
  clock_.advance_ms(61'000);
  auto made = store_->run_due_schedules(
      clock_.now_ms(), [](const Schedule& s, TimeMs now) { return decide_schedule(s, now); });
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->size(), 1u);
  auto runner = register_runner("box", token(TokenKind::kRunner, "admin").id);
  ASSERT_TRUE(runner.ok());
  auto claimed = claim(*runner);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].spec.secrets.at("TOKEN"), "sch-s3cr3t");
}

INSTANTIATE_TEST_SUITE_P(Backends, SecurityStoreTest, testing::kStoreBackends,
                         testing::backend_name);

}  // namespace
}  // namespace corral

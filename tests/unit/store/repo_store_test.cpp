// Repository mappings, user settings and the job columns steward fallback reads, against
// both real stores (SQLite and PostgreSQL, store_backends.h) with an injected clock; and a
// steward's claim through the store with the claim route's policy (server/steward.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "api/schedule.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/test_values.h"
#include "server/steward.h"
#include "store_backends.h"

namespace corral {
namespace {

class RepoStoreTest : public testing::StoreBackendTest {
 protected:
  RepoMapping put(const std::string& tenant, const std::string& full_name, const std::string& group,
                  const std::string& steward_runner = "", const std::string& steward_group = "") {
    RepoMapping m;
    m.tenant = tenant;
    m.full_name = full_name;
    m.group = group;
    m.steward_runner = steward_runner;
    m.steward_group = steward_group;
    m.created_at = m.updated_at = clock_.now_ms();
    m.updated_by = "tok_admin";
    auto stored = store_->put_repo(m);
    EXPECT_TRUE(stored.ok()) << stored.error().message;
    return stored.value();
  }

  Runner register_runner(const std::string& name, const std::string& group) {
    RunnerRegistration reg;
    reg.name = name;
    reg.group = group;
    auto r = store_->register_runner("t1", "tok_reg", reg, sha256_hex(name), clock_.now_ms());
    EXPECT_TRUE(r.ok());
    return r.value();
  }

  ManualClock clock_;
};

TEST_P(RepoStoreTest, PutListFindReplaceDelete) {
  put("t1", "o/n", "team", "night-box");
  put("t1", "a/b", "", "", "stewards");
  put("t2", "o/n", "other-team");
  auto listed = store_->list_repos("t1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].full_name, "a/b");  // by name
  EXPECT_EQ((*listed)[0].steward_group, "stewards");
  EXPECT_EQ((*listed)[1].steward_runner, "night-box");

  TimeMs created = clock_.now_ms();
  clock_.advance_ms(5'000);
  auto replaced = put("t1", "o/n", "team-2");
  EXPECT_EQ(replaced.group, "team-2");
  EXPECT_TRUE(replaced.steward_runner.empty());
  EXPECT_EQ(replaced.created_at, created);
  EXPECT_EQ(replaced.updated_at, clock_.now_ms());

  auto found = store_->find_repo("t2", "o/n");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->group, "other-team");  // tenants do not see each other's
  auto missing = store_->find_repo("t1", "x/y");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto deleted = store_->delete_repo("t1", "o/n");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->group, "team-2");
  auto again = store_->delete_repo("t1", "o/n");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->list_repos("t1")->size(), 1u);
}

TEST_P(RepoStoreTest, UserSettingsLiveOnTheToken) {
  Token t = {
      "tok_alice", TokenKind::kUser, "t1", "alice", sha256_hex("s"), clock_.now_ms(), 0, "", {},
      {}};
  ASSERT_TRUE(store_->insert_token(t).ok());
  EXPECT_FALSE(store_->get_token("tok_alice")->settings.steward_fallback);
  auto updated = store_->set_user_settings("tok_alice", UserSettings{true});
  ASSERT_TRUE(updated.ok());
  EXPECT_TRUE(updated->settings.steward_fallback);
  EXPECT_TRUE(store_->get_token("tok_alice")->settings.steward_fallback);
  EXPECT_TRUE(store_->find_token_by_hash(sha256_hex("s"))->value().settings.steward_fallback);
  EXPECT_EQ(store_->set_user_settings("tok_nobody", UserSettings{true}).error().code,
            ErrorCode::kNotFound);
}

TEST_P(RepoStoreTest, AJobKeepsItsRepositoryAndWhereItsGroupCameFrom) {
  Job job;
  job.id = new_id("job");
  job.tenant = "t1";
  job.owner_token_id = "tok_alice";
  job.spec.command = {"true"};
  job.spec.group = "team";
  job.spec.steward_fallback = true;
  job.repo_name = "o/n";
  job.group_source = kGroupFromRepo;
  job.created_at = job.not_before = clock_.now_ms();
  ASSERT_TRUE(store_->create_job(job, kNoJobCap).ok());
  auto got = store_->get_job("t1", job.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->repo_name, "o/n");
  EXPECT_EQ(got->group_source, "repo");
  EXPECT_EQ(to_json(*got)["group_source"], "repo");
  // The sweep that wakes parked claims sees what steward fallback needs.
  auto runnable = store_->runnable_jobs(clock_.now_ms(), 10);
  ASSERT_TRUE(runnable.ok());
  ASSERT_EQ(runnable->size(), 1u);
  EXPECT_EQ((*runnable)[0].repo_name, "o/n");
  EXPECT_EQ((*runnable)[0].spec.steward_fallback, true);
}

TEST_P(RepoStoreTest, AStewardClaimsThroughTheStoreOnlyOnceTheGroupIsStale) {
  Runner team = register_runner("team-box", "team");
  Runner steward = register_runner("steward", "stewards");
  put("t1", "o/n", "team", "steward");
  Job job;
  job.id = new_id("job");
  job.tenant = "t1";
  job.owner_token_id = "tok_alice";
  job.spec.command = {"true"};
  job.spec.repo = RepoSpec{"https://github.com/o/n.git", "", "", 0};
  auto mapping = store_->find_repo("t1", "o/n");
  apply_repo_mapping(job, mapping->has_value() ? &mapping->value() : nullptr);
  job.spec.steward_fallback = true;
  job.created_at = job.not_before = clock_.now_ms();
  ASSERT_TRUE(store_->create_job(job, kNoJobCap).ok());

  auto claim_as = [&](const Runner& r) {
    auto facts = load_steward_facts(*store_, "t1", clock_.now_ms(), kTestStale, &r);
    EXPECT_TRUE(facts.ok());
    auto claimed = store_->claim(
        r.id, 1, clock_.now_ms(), 30'000,
        JobMatcher([&](const Runner& who, const Job& j) { return may_claim(who, j, *facts); }));
    EXPECT_TRUE(claimed.ok());
    return claimed.ok() ? claimed.value() : std::vector<ClaimedJob>{};
  };
  // Both beat; team-box stops. At the threshold the steward still may not take it.
  clock_.advance_ms(kTestStale);
  ASSERT_TRUE(store_->heartbeat(steward.id, {}, clock_.now_ms(), 30'000).ok());
  EXPECT_TRUE(claim_as(steward).empty());
  clock_.advance_ms(1);
  auto got = claim_as(steward);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].job_id, job.id);
  EXPECT_TRUE(claim_as(team).empty());  // stale and the job is gone anyway
}

TEST_P(RepoStoreTest, AScheduledJobGetsItsRepositorysGroup) {
  put("t1", "o/n", "team");
  auto spec = parse_schedule_spec(
      {{"name", "nightly"},
       {"cron", "* * * * *"},
       {"timezone", "UTC"},
       {"job", {{"command", {"true"}}, {"repo", {{"url", "git@github.com:o/n.git"}}}}}});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  ASSERT_TRUE(
      store_->create_schedule(new_schedule("t1", "tok_alice", spec.value(), clock_.now_ms())).ok());
  clock_.advance_ms(120'000);
  auto made = store_->run_due_schedules(
      clock_.now_ms(), [](const Schedule& s, TimeMs now) { return decide_schedule(s, now); });
  ASSERT_TRUE(made.ok()) << made.error().message;
  ASSERT_EQ(made->size(), 1u);
  auto job = store_->get_job("t1", (*made)[0].id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.group, "team");
  EXPECT_EQ(job->group_source, "repo");
  EXPECT_EQ(job->repo_name, "o/n");
}

INSTANTIATE_TEST_SUITE_P(Backends, RepoStoreTest, testing::kStoreBackends, testing::backend_name);

}  // namespace
}  // namespace corral

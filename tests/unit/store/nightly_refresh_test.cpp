// The nightly refresh of stewarded repositories (server/nightly_refresh.h) against both real
// stores with an injected clock: the 02:xx window in each tenant's refresh zone (its setting,
// else the server's), the 20-hour gap, and exactly one pair of jobs when two servers (two
// stores on one database) run it at once.
#include "server/nightly_refresh.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/clock.h"
#include "store_backends.h"

namespace corral {
namespace {

// 2026-12-01T02:10:00Z.
constexpr TimeMs kTwoTenUtc = 1'796'091'000'000;
constexpr TimeMs kHour = 3'600'000;

class NightlyRefreshTest : public testing::StoreBackendTest {
 protected:
  void put(const std::string& tenant, const std::string& full_name,
           const std::string& steward_runner, const std::string& url = "") {
    RepoMapping m;
    m.tenant = tenant;
    m.full_name = full_name;
    m.steward_runner = steward_runner;
    m.clone_url = url;
    m.created_at = m.updated_at = kTwoTenUtc - 10 * kHour;
    m.updated_by = "tok_admin";
    ASSERT_TRUE(store_->put_repo(m).ok());
  }
  std::vector<Job> refresh(TimeMs now, const TimeZone& tz = TimeZone::utc()) {
    auto made = run_nightly_refresh(*store_, now, tz);
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.ok() ? made.value() : std::vector<Job>{};
  }
  void set_zone(const std::string& tenant, const std::string& zone) {
    TenantSettings settings;
    settings.tenant = tenant;
    settings.refresh_timezone = zone;
    settings.updated_at = kTwoTenUtc - 10 * kHour;
    settings.updated_by = "tok_admin";
    auto stored = store_->put_tenant_settings(settings);
    ASSERT_TRUE(stored.ok()) << stored.error().message;
  }
  std::vector<Job> jobs_of(const std::string& tenant) {
    JobQuery q;
    q.limit = 100;
    auto listed = store_->list_jobs(tenant, q);
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? listed->jobs : std::vector<Job>{};
  }
};

TEST(NightlyRefresh, DueOnlyAtTwoWithAStewardAndAfterTwentyHours) {
  RepoMapping repo;
  repo.full_name = "o/n";
  EXPECT_FALSE(nightly_refresh_due(repo, kTwoTenUtc, TimeZone::utc())) << "no steward";
  repo.steward_group = "night";
  EXPECT_TRUE(nightly_refresh_due(repo, kTwoTenUtc, TimeZone::utc()));
  EXPECT_FALSE(nightly_refresh_due(repo, kTwoTenUtc + kHour, TimeZone::utc())) << "03:10";
  EXPECT_FALSE(nightly_refresh_due(repo, kTwoTenUtc - 11 * 60'000, TimeZone::utc())) << "01:59";
  repo.last_auto_refresh_at = kTwoTenUtc - 19 * kHour;
  EXPECT_FALSE(nightly_refresh_due(repo, kTwoTenUtc, TimeZone::utc()));
  repo.last_auto_refresh_at = kTwoTenUtc - 20 * kHour;
  EXPECT_TRUE(nightly_refresh_due(repo, kTwoTenUtc, TimeZone::utc()));
  // 02:10 UTC is 03:10 in Berlin in winter; 01:10 UTC is Berlin's 02:10.
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  repo.last_auto_refresh_at = 0;
  EXPECT_FALSE(nightly_refresh_due(repo, kTwoTenUtc, *berlin));
  EXPECT_TRUE(nightly_refresh_due(repo, kTwoTenUtc - kHour, *berlin));
}

TEST(NightlyRefresh, JobsAreAnalysisTasksOfTheRepository) {
  RepoMapping repo;
  repo.tenant = "t1";
  repo.full_name = "acme/widget";
  repo.group = "reviews";
  repo.steward_runner = "night-box";
  repo.updated_by = "tok_admin";
  auto jobs = nightly_refresh_jobs(repo, kTwoTenUtc, TimeZone::utc());
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].spec.type, "analysis-pr");
  EXPECT_EQ(jobs[1].spec.type, "analysis-issue");
  for (const auto& job : jobs) {
    ASSERT_TRUE(job.spec.agent.has_value());
    EXPECT_EQ(job.spec.repo->url, "https://github.com/acme/widget.git");
    EXPECT_EQ(job.spec.group, "reviews") << "the mapping's group applies";
    EXPECT_EQ(job.repo_name, "acme/widget");
    EXPECT_EQ(job.owner_token_id, "tok_admin");
    EXPECT_NE(job.spec.agent->prompt.find("acme/widget"), std::string::npos);
    EXPECT_EQ(job.idempotency_key, "nightly-refresh:acme/widget:2026-12-01:" + job.spec.type);
  }
}

TEST_P(NightlyRefreshTest, QueuesOnePairPerNightPerStewardedRepository) {
  put("t1", "acme/widget", "night-box", "file:///srv/git/widget");
  put("t1", "acme/plain", "");  // no steward: never refreshed
  put("t2", "other/repo", "t2-box");

  EXPECT_TRUE(refresh(kTwoTenUtc - 2 * kHour).empty()) << "00:10 is outside the window";
  auto made = refresh(kTwoTenUtc);
  ASSERT_EQ(made.size(), 4u);
  auto t1 = jobs_of("t1");
  ASSERT_EQ(t1.size(), 2u);
  for (const auto& job : t1) {
    EXPECT_EQ(job.repo_name, "acme/widget");
    EXPECT_EQ(job.spec.repo->url, "file:///srv/git/widget");
  }
  EXPECT_EQ(jobs_of("t2").size(), 2u);
  auto repo = store_->find_repo("t1", "acme/widget");
  ASSERT_TRUE(repo.ok() && repo->has_value());
  EXPECT_EQ((*repo)->last_auto_refresh_at, kTwoTenUtc);

  // Later the same night, and the next evening: nothing; the next night: one more pair.
  EXPECT_TRUE(refresh(kTwoTenUtc + 40 * 60'000).empty());
  EXPECT_TRUE(refresh(kTwoTenUtc + 19 * kHour).empty());
  EXPECT_EQ(refresh(kTwoTenUtc + 24 * kHour).size(), 4u);
  EXPECT_EQ(jobs_of("t1").size(), 4u);
}

TEST_P(NightlyRefreshTest, TwoServersAtOnceMakeOnePair) {
  put("t1", "acme/widget", "night-box");
  auto second = open_store();  // another server on the same database
  ASSERT_TRUE(second.ok()) << second.error().message;
  // The second server has made the jobs but crashed before it could mark the repository.
  for (auto& job : nightly_refresh_jobs(*(*store_->find_repo("t1", "acme/widget")), kTwoTenUtc,
                                        TimeZone::utc())) {
    ASSERT_TRUE((*second)->create_job(job, kNoJobCap).ok());
  }
  // Now both run the refresh: the jobs exist already, so neither makes any.
  auto a = run_nightly_refresh(*store_, kTwoTenUtc + 60'000, TimeZone::utc());
  auto b = run_nightly_refresh(**second, kTwoTenUtc + 60'000, TimeZone::utc());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->empty());
  EXPECT_TRUE(b->empty());
  EXPECT_EQ(jobs_of("t1").size(), 2u);
  EXPECT_GT((*store_->find_repo("t1", "acme/widget"))->last_auto_refresh_at, 0);
}

TEST_P(NightlyRefreshTest, TenantSettingsAreKeptAndDefaultWhenUnset) {
  auto unset = store_->get_tenant_settings("t1");
  ASSERT_TRUE(unset.ok()) << unset.error().message;
  EXPECT_EQ(unset->tenant, "t1");
  EXPECT_EQ(unset->refresh_timezone, "");
  EXPECT_EQ(unset->updated_at, 0);

  set_zone("t1", "Europe/Berlin");
  auto kept = store_->get_tenant_settings("t1");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->refresh_timezone, "Europe/Berlin");
  EXPECT_EQ(kept->updated_at, kTwoTenUtc - 10 * kHour);
  EXPECT_EQ(kept->updated_by, "tok_admin");
  EXPECT_EQ(store_->get_tenant_settings("t2")->refresh_timezone, "") << "another tenant's own";

  // Another server on the same database sees it; a replace keeps one row per tenant.
  auto second = open_store();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ((*second)->get_tenant_settings("t1")->refresh_timezone, "Europe/Berlin");
  set_zone("t1", "Asia/Tokyo");
  set_zone("t2", "");  // set, but to the server's default
  auto zones = (*second)->tenant_refresh_timezones();
  ASSERT_TRUE(zones.ok()) << zones.error().message;
  EXPECT_EQ(*zones, (std::map<std::string, std::string>{{"t1", "Asia/Tokyo"}}));
}

TEST_P(NightlyRefreshTest, EachTenantRefreshesAtTwoInItsOwnZone) {
  put("berlin", "acme/widget", "night-box");
  put("tokyo", "other/repo", "t2-box");
  put("plain", "third/repo", "box");  // sets no zone: the server's (UTC here)
  set_zone("berlin", "Europe/Berlin");
  set_zone("tokyo", "Asia/Tokyo");
  auto keys_of = [&](const std::string& tenant) {
    std::set<std::string> keys;
    for (const auto& job : jobs_of(tenant)) keys.insert(job.idempotency_key);
    return keys;
  };

  // 2026-11-30T17:10Z: 02:10 on Dec 1 in Tokyo (UTC+9), 18:10 in Berlin, 17:10 in UTC.
  auto made = refresh(kTwoTenUtc - 9 * kHour);
  ASSERT_EQ(made.size(), 2u);
  for (const auto& job : made) EXPECT_EQ(job.tenant, "tokyo");
  // The date in the key is Tokyo's, not UTC's (still Nov 30).
  EXPECT_EQ(keys_of("tokyo"),
            (std::set<std::string>{"nightly-refresh:other/repo:2026-12-01:analysis-pr",
                                   "nightly-refresh:other/repo:2026-12-01:analysis-issue"}));

  // 01:10Z: 02:10 in Berlin (CET, UTC+1), 10:10 in Tokyo.
  made = refresh(kTwoTenUtc - kHour);
  ASSERT_EQ(made.size(), 2u);
  for (const auto& job : made) EXPECT_EQ(job.tenant, "berlin");

  // 02:10Z: the tenant without a zone of its own, in the server's.
  made = refresh(kTwoTenUtc);
  ASSERT_EQ(made.size(), 2u);
  for (const auto& job : made) EXPECT_EQ(job.tenant, "plain");
  EXPECT_EQ(jobs_of("tokyo").size(), 2u);
  EXPECT_EQ(jobs_of("berlin").size(), 2u);

  // A server whose default zone is Tokyo's: the tenant without a zone follows it, the others
  // keep theirs. 2026-12-02T17:10Z is 02:10 on Dec 3 in Tokyo.
  auto tokyo = TimeZone::load("Asia/Tokyo");
  ASSERT_TRUE(tokyo.ok());
  made = refresh(kTwoTenUtc + 48 * kHour - 9 * kHour, *tokyo);
  ASSERT_EQ(made.size(), 4u);
  std::set<std::string> tenants;
  for (const auto& job : made) tenants.insert(job.tenant);
  EXPECT_EQ(tenants, (std::set<std::string>{"plain", "tokyo"}));
  EXPECT_EQ(keys_of("plain").count("nightly-refresh:third/repo:2026-12-03:analysis-pr"), 1u);
  // 02:10Z (11:10 in Tokyo), more than 20 hours later: no longer the plain tenant's hour.
  EXPECT_TRUE(refresh(kTwoTenUtc + 72 * kHour, *tokyo).empty());
  EXPECT_EQ(jobs_of("berlin").size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, NightlyRefreshTest, testing::kStoreBackends,
                         testing::backend_name);

}  // namespace
}  // namespace corral

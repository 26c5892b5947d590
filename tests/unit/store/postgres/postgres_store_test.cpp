// What only a shared PostgreSQL store must guarantee: several servers (several
// PostgresStore instances on one database) never hand out one job twice, run each sweep
// once, migrate safely at the same moment, serve each other's logs, and survive a database
// restart. Real PostgreSQL (CORRAL_TEST_PG; skipped without it).
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "api/schedule.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/pg_test_db.h"
#include "common/schedule_tick.h"
#include "common/test_values.h"
#include "store/postgres/migrations.h"

namespace corral {
namespace {

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!db_.configured()) GTEST_SKIP() << testing::kPgSkipMessage;
    ASSERT_FALSE(db_.url().empty()) << db_.error();
  }

  std::unique_ptr<PostgresStore> open(const std::string& url, int pool_size = 8) {
    PostgresStoreOptions options;
    options.url = url;
    options.pool_size = pool_size;
    auto opened = PostgresStore::open(options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened.value()) : nullptr;
  }

  Runner register_runner(Store& store, const std::string& name, int slots = 1) {
    RunnerRegistration reg;
    reg.name = name;
    reg.max_concurrent_jobs = slots;
    auto r = store.register_runner("t1", "tok", reg, sha256_hex(name), clock_.now_ms());
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.value();
  }

  Job submit(Store& store) {
    Job job;
    job.id = new_id("job");
    job.tenant = "t1";
    job.owner_token_id = "user";
    job.spec.command = {"true"};
    job.created_at = clock_.now_ms();
    auto r = store.create_job(job, kNoJobCap);
    EXPECT_TRUE(r.ok());
    return r->job;
  }

  testing::PgTestDatabase db_;
  ManualClock clock_;
};

TEST_F(PostgresStoreTest, TwoServersClaimingFromManyThreadsNeverHandOutAJobTwice) {
  auto a = open(db_.url());
  auto b = open(db_.url());
  ASSERT_TRUE(a && b);
  constexpr int kJobs = 300, kRunnersPerServer = 4;
  std::set<std::string> submitted;
  for (int i = 0; i < kJobs; ++i) submitted.insert(submit(i % 2 ? *a : *b).id);

  std::mutex mu;
  std::map<std::string, int> times_claimed;
  std::atomic<int> errors{0};
  // Half the runners claim by the normal rule (one corral_claim statement), half by a
  // matcher (the statement-per-step path a steward takes): the two never collide either.
  auto work = [&](PostgresStore* store, std::string name, bool by_matcher) {
    auto runner = register_runner(*store, name, 2);
    ClaimRule rule = by_matcher ? ClaimRule(kAnyJob) : ClaimRule::normal(kAnyJob, 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = store->claim(runner.id, 2, clock_.now_ms(), kTestLease, rule);
      if (!got.ok()) {
        ++errors;
        continue;
      }
      if (got->empty()) {
        auto stats = store->queue_stats("t1", clock_.now_ms());
        if (stats.ok() && stats->by_state["queued"] == 0) return;
        continue;  // the rest is locked by other claims right now
      }
      for (const auto& c : *got) {
        {
          std::lock_guard lock(mu);
          ++times_claimed[c.job_id];
        }
        FinishReport ok;
        ok.state = AttemptState::kSucceeded;
        ok.exit_code = 0;
        if (!store->start_attempt(runner.id, c.job_id, c.attempt, clock_.now_ms()).ok()) ++errors;
        if (!store->finish_attempt(runner.id, c.job_id, c.attempt, ok, clock_.now_ms()).ok())
          ++errors;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunnersPerServer; ++i) {
    threads.emplace_back(work, a.get(), "a" + std::to_string(i), i % 2 == 1);
    threads.emplace_back(work, b.get(), "b" + std::to_string(i), i % 2 == 0);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(times_claimed.size(), submitted.size());
  for (const auto& [id, n] : times_claimed) {
    EXPECT_EQ(n, 1) << id << " was handed out " << n << " times";
    EXPECT_TRUE(submitted.count(id));
  }
  auto stats = a->queue_stats("t1", clock_.now_ms());
  EXPECT_EQ(stats->by_state["succeeded"], kJobs);
}

TEST_F(PostgresStoreTest, ServersStartingAtOnceMigrateOnce) {
  constexpr int kServers = 4;
  std::vector<std::unique_ptr<PostgresStore>> stores(kServers);
  std::vector<std::string> failures(kServers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      PostgresStoreOptions options;
      options.url = db_.url();
      auto opened = PostgresStore::open(options);
      if (opened.ok())
        stores[i] = std::move(opened.value());
      else
        failures[i] = opened.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kServers; ++i) EXPECT_TRUE(stores[i]) << failures[i];
  auto versions = stores[0]->pool().transaction<std::vector<int>>(
      [](pg::Connection& c) -> Result<std::vector<int>> {
        std::vector<int> out;
        auto rows = c.query("SELECT version FROM schema_migrations ORDER BY version");
        for (int i = 0; i < rows.size(); ++i) out.push_back(rows[i].integer(0));
        return out;
      });
  ASSERT_TRUE(versions.ok()) << versions.error().message;
  std::vector<int> every_version(pg::latest_version());
  std::iota(every_version.begin(), every_version.end(), 1);
  EXPECT_GE(every_version.size(), 5u);
  EXPECT_EQ(*versions, every_version);
  for (auto& s : stores) {
    if (s) {
      EXPECT_TRUE(s->list_tokens().ok());
    }
  }
}

// corral_claim counts the runner's attempts only once it holds the runner's row: claims of
// one runner racing on two servers take turns and never exceed its slots together.
TEST_F(PostgresStoreTest, OneRunnersClaimsOnTwoServersNeverExceedItsSlots) {
  auto a = open(db_.url());
  auto b = open(db_.url());
  ASSERT_TRUE(a && b);
  constexpr int kSlots = 3;
  auto runner = register_runner(*a, "r", kSlots);
  for (int i = 0; i < 20; ++i) submit(*a);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto got =
          (i % 2 ? *a : *b)
              .claim(runner.id, kSlots, clock_.now_ms(), kTestLease, ClaimRule::normal(kAnyJob, 0));
      ASSERT_TRUE(got.ok()) << got.error().message;
      taken += static_cast<int>(got->size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), kSlots);
  EXPECT_EQ(a->get_runner(runner.id)->running.size(), static_cast<size_t>(kSlots));
}

// Claims of many runners at once lock the queue's first jobs; a claim that finds all of its
// first candidates held reads further instead of coming back empty.
TEST_F(PostgresStoreTest, AClaimReadsPastJobsOtherClaimsHold) {
  auto store = open(db_.url());
  ASSERT_TRUE(store);
  auto runner = register_runner(*store, "r");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(submit(*store).id);
    clock_.advance_ms(1);
  }
  // Another "claim" holds the oldest ten (far more than a claim of one slot reads first).
  auto holder = pg::Connection::open(db_.url());
  ASSERT_TRUE(holder.ok()) << holder.error().message;
  (*holder)->exec_script("BEGIN");
  ASSERT_EQ((*holder)->query("SELECT id FROM jobs ORDER BY seq LIMIT 10 FOR UPDATE").size(), 10);
  auto got = store->claim(runner.id, 1, clock_.now_ms(), kTestLease, ClaimRule::normal(kAnyJob, 0));
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).job_id, ids[10]);  // the oldest one nobody holds
  (*holder)->exec_script("ROLLBACK");
}

TEST_F(PostgresStoreTest, EachExpiredLeaseIsLostOnceAcrossServers) {
  auto a = open(db_.url());
  auto b = open(db_.url());
  ASSERT_TRUE(a && b);
  constexpr int kJobs = 40;
  auto runner = register_runner(*a, "r", kJobs);
  for (int i = 0; i < kJobs; ++i) submit(*a);
  ASSERT_EQ(a->claim(runner.id, kJobs, clock_.now_ms(), kTestLease, kAnyJob)->size(),
            static_cast<size_t>(kJobs));
  clock_.advance_ms(kTestLease + 1);
  std::atomic<int64_t> lost{0};
  std::atomic<int> requeued{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto sweep = (i % 2 ? *a : *b).expire_leases(clock_.now_ms());
      ASSERT_TRUE(sweep.ok()) << sweep.error().message;
      lost += sweep->lost_attempts;
      requeued += static_cast<int>(sweep->requeued_job_ids.size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(lost.load(), kJobs);
  EXPECT_EQ(requeued.load(), kJobs);
  EXPECT_EQ(a->queue_stats("t1", clock_.now_ms())->by_state["queued"], kJobs);
}

TEST_F(PostgresStoreTest, EachScheduleTickMakesOneJobAcrossServers) {
  auto a = open(db_.url());
  auto b = open(db_.url());
  ASSERT_TRUE(a && b);
  constexpr int kSchedules = 10;
  for (int i = 0; i < kSchedules; ++i) {
    auto spec = parse_schedule_spec(
        {{"name", "s" + std::to_string(i)}, {"cron", "* * * * *"}, {"job", {{"script", "true"}}}});
    ASSERT_TRUE(spec.ok());
    ASSERT_TRUE(a->create_schedule(new_schedule("t1", "owner", *spec, clock_.now_ms())).ok());
  }
  clock_.advance_ms(61'000);
  std::atomic<int> made{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto jobs =
          (i % 2 ? *a : *b).run_due_schedules(clock_.now_ms(), [](const Schedule& s, TimeMs now) {
            return decide_schedule(s, now);
          });
      ASSERT_TRUE(jobs.ok()) << jobs.error().message;
      made += static_cast<int>(jobs->size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(made.load(), kSchedules);
  EXPECT_EQ(a->queue_stats("t1", clock_.now_ms())->by_state["queued"], kSchedules);
}

TEST_F(PostgresStoreTest, ALogSentToOneServerIsReadOnAnother) {
  auto a = open(db_.url());
  auto b = open(db_.url());
  ASSERT_TRUE(a && b);
  auto runner = register_runner(*a, "r");
  auto job = submit(*a);
  auto claimed = b->claim(runner.id, 1, clock_.now_ms(), kTestLease, kAnyJob);
  ASSERT_EQ(claimed->size(), 1u);
  std::string binary("line 1\n\0\xff bytes\n", 15);
  ASSERT_TRUE(a->append_log(runner.id, job.id, 1, 0, binary, clock_.now_ms()).ok());
  ASSERT_TRUE(b->append_log(runner.id, job.id, 1, static_cast<int64_t>(binary.size()), "line 2\n",
                            clock_.now_ms())
                  .ok());
  auto log = b->read_log("t1", job.id, 0, 0, 1 << 20);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(log->data, binary + "line 2\n");
  EXPECT_EQ(log->size, static_cast<int64_t>(binary.size() + 7));
}

TEST_F(PostgresStoreTest, StoppedDatabaseIsUnavailableAndTheStoreRecoversWhenItIsBack) {
  testing::PgPrivateCluster cluster;
  ASSERT_TRUE(cluster.start()) << cluster.errors();
  auto store = open(cluster.url(), 2);
  ASSERT_TRUE(store);
  auto runner = register_runner(*store, "r", 2);
  submit(*store);
  submit(*store);
  ASSERT_TRUE(store->get_runner(runner.id).ok());  // leaves idle connections in the pool

  ASSERT_TRUE(cluster.stop()) << cluster.errors();
  auto down = store->create_job(Job{}, kNoJobCap);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(http_status(down.error().code), 503);
  EXPECT_NE(down.error().message.find("127.0.0.1:" + cluster.port()), std::string::npos)
      << down.error().message;
  EXPECT_EQ(store->claim(runner.id, 1, clock_.now_ms(), kTestLease, kAnyJob).error().code,
            ErrorCode::kUnavailable);
  EXPECT_EQ(store->claim(runner.id, 1, clock_.now_ms(), kTestLease, ClaimRule::normal(kAnyJob, 0))
                .error()
                .code,
            ErrorCode::kUnavailable);

  ASSERT_TRUE(cluster.start()) << cluster.errors();
  // Back without reopening the store: the pool drops its dead connections and opens new
  // ones, so the first call after the restart already succeeds, in a transaction or not.
  auto by_rule =
      store->claim(runner.id, 1, clock_.now_ms(), kTestLease, ClaimRule::normal(kAnyJob, 0));
  ASSERT_TRUE(by_rule.ok()) << by_rule.error().message;
  EXPECT_EQ(by_rule->size(), 1u);
  auto by_matcher = store->claim(runner.id, 1, clock_.now_ms(), kTestLease, kAnyJob);
  ASSERT_TRUE(by_matcher.ok()) << by_matcher.error().message;
  EXPECT_EQ(by_matcher->size(), 1u);
  EXPECT_EQ(store->get_runner(runner.id)->running.size(), 2u);
}

}  // namespace
}  // namespace corral

// Store behaviour with an injected clock: claims, fencing, leases, logs, tenants.
// The conformance suite: every TEST_P runs against the real SQLite store in a temporary
// directory and against PostgreSQL in a fresh database (CORRAL_TEST_PG; store_backends.h).
// SqliteStoreTest holds what only the SQLite store has (log files, group commit).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/test_values.h"
#include "server/matching.h"
#include "store/sqlite/sqlite_store.h"
#include "store_backends.h"

namespace corral {
namespace {

// The rule the server claims by for a runner that is no steward: the store may evaluate it
// itself (PostgresStore: in SQL, in one statement).
// Its prefilter is the server's too: runner_can_take.
ClaimRule normal_rule(TimeMs fresh_since = 0) {
  auto rule = ClaimRule::normal(
      [fresh_since](const Runner& r, const Job& j) {
        return r.last_heartbeat_at >= fresh_since && runner_can_take(r, j);
      },
      fresh_since);
  rule.prefilter = runner_can_take;
  return rule;
}

class StoreTest : public testing::StoreBackendTest {
 protected:
  Runner register_runner(const std::string& name, const std::string& tenant = "t1", int slots = 1) {
    RunnerRegistration reg;
    reg.name = name;
    reg.max_concurrent_jobs = slots;
    auto r = store_->register_runner(tenant, "tok", reg, sha256_hex(name), clock_.now_ms());
    EXPECT_TRUE(r.ok());
    return r.value();
  }

  // A new job, not stored yet.
  Job submit_spec(const std::string& tenant = "t1", int max_attempts = 3, int priority = 0) {
    Job job;
    job.id = new_id("job");
    job.tenant = tenant;
    job.owner_token_id = "user";
    job.spec.command = {"echo", "hi"};
    job.spec.max_attempts = max_attempts;
    job.spec.priority = priority;
    job.created_at = clock_.now_ms();
    return job;
  }

  Job submit(const std::string& tenant = "t1", int max_attempts = 3, int priority = 0) {
    auto r = store_->create_job(submit_spec(tenant, max_attempts, priority), kNoJobCap);
    EXPECT_TRUE(r.ok());
    return r->job;
  }

  // By the normal rule, or (by_matcher) by a predicate the store must call job by job.
  std::vector<ClaimedJob> claim(const Runner& r, int slots = 1, bool by_matcher = false) {
    auto c = by_matcher ? store_->claim(r.id, slots, clock_.now_ms(), kTestLease, kAnyJob)
                        : store_->claim(r.id, slots, clock_.now_ms(), kTestLease, normal_rule());
    EXPECT_TRUE(c.ok());
    return c.ok() ? c.value() : std::vector<ClaimedJob>{};
  }

  Job job(const std::string& id, const std::string& tenant = "t1") {
    auto j = store_->get_job(tenant, id);
    EXPECT_TRUE(j.ok());
    return j.value();
  }

  ManualClock clock_;
};

// What only the SQLite store has: log files beside the database, group commit.
class SqliteStoreTest : public StoreTest {
 protected:
  SqliteStore& sqlite() { return static_cast<SqliteStore&>(*store_); }
  // Reopens this test's database with the writer's options set by `set`.
  void reopen_with(const std::function<void(SqliteStoreOptions&)>& set) {
    store_.reset();
    SqliteStoreOptions options;
    options.path = (dir_ / "corral.db").string();
    options.synchronous_full = false;
    set(options);
    store_ = std::move(SqliteStore::open(options).value());
  }
};

TEST_P(StoreTest, ClaimTakesHighestPriorityThenOldest) {
  auto runner = register_runner("r1", "t1", 3);
  auto low = submit("t1", 3, 0);
  auto high = submit("t1", 3, 5);
  auto low2 = submit("t1", 3, 0);
  auto got = claim(runner, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].job_id, high.id);
  EXPECT_EQ(got[1].job_id, low.id);
  EXPECT_EQ(got[2].job_id, low2.id);
  EXPECT_EQ(got[0].attempt, 1);
  EXPECT_EQ(job(low.id).state, JobState::kLeased);
}

TEST_P(StoreTest, ClaimNeverExceedsMaxConcurrentJobs) {
  auto runner = register_runner("r1", "t1", 2);
  for (int i = 0; i < 4; ++i) submit();
  EXPECT_EQ(claim(runner, 10).size(), 2u);
  EXPECT_EQ(claim(runner, 10).size(), 0u);
  auto r = store_->get_runner(runner.id);
  EXPECT_EQ(r->running.size(), 2u);
  EXPECT_EQ(r->status, RunnerStatus::kBusy);
}

TEST_P(StoreTest, TwoRunnersNeverGetTheSameJob) {
  auto a = register_runner("a");
  auto b = register_runner("b");
  auto only = submit();
  auto got_a = claim(a);
  auto got_b = claim(b);
  ASSERT_EQ(got_a.size() + got_b.size(), 1u);
  EXPECT_EQ(got_a.empty() ? got_b[0].job_id : got_a[0].job_id, only.id);
}

TEST_P(StoreTest, RunnerTakesOnlyItsTenantsJobs) {
  auto other = register_runner("r1", "t2");
  submit("t1");
  EXPECT_TRUE(claim(other).empty());
  auto mine = submit("t2");
  auto got = claim(other);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].job_id, mine.id);
  EXPECT_FALSE(store_->get_job("t1", mine.id).ok());
}

TEST_P(StoreTest, MatcherFiltersCandidates) {
  auto runner = register_runner("r1");
  auto skipped = submit();
  auto wanted = submit();
  JobMatcher only_wanted = [&](const Runner&, const Job& j) { return j.id == wanted.id; };
  auto got = store_->claim(runner.id, 1, clock_.now_ms(), kTestLease, only_wanted);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).job_id, wanted.id);
  EXPECT_EQ(job(skipped.id).state, JobState::kQueued);
}

TEST_P(StoreTest, FullLifecycle) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  ASSERT_TRUE(store_->start_attempt(runner.id, j.id, c.attempt, clock_.now_ms()).ok());
  EXPECT_EQ(job(j.id).state, JobState::kRunning);
  ASSERT_EQ(
      store_->append_log(runner.id, j.id, c.attempt, 0, "hello ", clock_.now_ms())->next_offset, 6);
  ASSERT_EQ(
      store_->append_log(runner.id, j.id, c.attempt, 6, "world\n", clock_.now_ms())->next_offset,
      12);
  FinishReport report;
  report.state = AttemptState::kSucceeded;
  report.exit_code = 0;
  report.result = json{{"verdict", "lgtm"}};
  auto done = store_->finish_attempt(runner.id, j.id, c.attempt, report, clock_.now_ms());
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kSucceeded);
  EXPECT_EQ(done->exit_code, 0);
  EXPECT_EQ(done->result["verdict"], "lgtm");
  auto log = store_->read_log("t1", j.id, 0, 0, 1 << 20);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->data, "hello world\n");
  EXPECT_TRUE(log->complete);
  auto tail = store_->read_log("t1", j.id, 0, 8, 1 << 20);
  EXPECT_EQ(tail->data, "rld\n");
  EXPECT_EQ(store_->get_runner(runner.id)->status, RunnerStatus::kIdle);
}

// A runner's batched report (POST /api/v1/runners/{id}/reports): each start and finish as
// its own call would be, a refused one leaving the others alone.
TEST_P(StoreTest, StartsAndFinishesOfSeveralAttemptsAreEachFencedOnTheirOwn) {
  auto runner = register_runner("r1", "t1", 3);
  auto other = register_runner("r2");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit().id);
  auto claimed = claim(runner, 3);
  ASSERT_EQ(claimed.size(), 3u);

  auto started = store_->start_attempts(
      runner.id, {{ids[0], 1}, {ids[1], 1}, {ids[2], 1}, {ids[1], 2}}, clock_.now_ms());
  ASSERT_EQ(started.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(started[i].ok()) << started[i].error().message;
    EXPECT_EQ(started[i]->state, AttemptState::kRunning);
  }
  ASSERT_FALSE(started[3].ok());  // no attempt 2
  for (const auto& id : ids) EXPECT_EQ(job(id).state, JobState::kRunning);

  FinishReport ok;
  ok.state = AttemptState::kSucceeded;
  ok.exit_code = 0;
  FinishReport failed;
  failed.state = AttemptState::kFailed;
  failed.exit_code = 3;
  // Another runner's finish of the same attempt is refused (409) and changes nothing.
  auto theirs = store_->finish_attempts(other.id, {{ids[0], 1, failed}}, clock_.now_ms());
  ASSERT_EQ(theirs.size(), 1u);
  ASSERT_FALSE(theirs[0].ok());
  EXPECT_EQ(theirs[0].error().code, ErrorCode::kConflict);
  auto finished = store_->finish_attempts(
      runner.id, {{ids[0], 1, ok}, {ids[1], 7, ok}, {ids[2], 1, failed}}, clock_.now_ms());
  ASSERT_EQ(finished.size(), 3u);
  ASSERT_TRUE(finished[0].ok()) << finished[0].error().message;
  EXPECT_EQ(finished[0]->state, JobState::kSucceeded);
  ASSERT_FALSE(finished[1].ok());
  EXPECT_EQ(finished[1].error().code, ErrorCode::kConflict);
  ASSERT_TRUE(finished[2].ok()) << finished[2].error().message;
  EXPECT_EQ(finished[2]->state, JobState::kFailed);
  EXPECT_EQ(finished[2]->exit_code, 3);
  EXPECT_EQ(job(ids[1]).state, JobState::kRunning);
  EXPECT_EQ(store_->get_runner(runner.id)->status, RunnerStatus::kBusy);

  // A repeated finish answers the job again, as finish_attempt does.
  auto rest =
      store_->finish_attempts(runner.id, {{ids[1], 1, ok}, {ids[0], 1, ok}}, clock_.now_ms());
  ASSERT_TRUE(rest[0].ok() && rest[1].ok());
  EXPECT_EQ(rest[1]->state, JobState::kSucceeded);
  EXPECT_EQ(store_->get_runner(runner.id)->status, RunnerStatus::kIdle);
  EXPECT_TRUE(store_->start_attempts(runner.id, {}, clock_.now_ms()).empty());
}

TEST_P(StoreTest, LogAppendIsIdempotentAndRejectsGaps) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  ASSERT_EQ(store_->append_log(runner.id, j.id, 1, 0, "abcdef", 0)->next_offset, 6);
  // exact repeat and a contained repeat change nothing
  EXPECT_EQ(store_->append_log(runner.id, j.id, 1, 0, "abcdef", 0)->next_offset, 6);
  EXPECT_EQ(store_->append_log(runner.id, j.id, 1, 2, "cd", 0)->next_offset, 6);
  // an overlap appends only the new tail
  EXPECT_EQ(store_->append_log(runner.id, j.id, 1, 4, "efgh", 0)->next_offset, 8);
  auto gap = store_->append_log(runner.id, j.id, 1, 20, "x", 0);
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().code, ErrorCode::kRangeNotSatisfiable);
  EXPECT_EQ(json::parse(gap.error().detail_json)["next_offset"], 8);
  EXPECT_EQ(store_->read_log("t1", j.id, 1, 0, 100)->data, "abcdefgh");
  (void)c;
}

TEST_P(StoreTest, AppendReportsWhatItStored) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  auto appended = store_->append_log(runner.id, j.id, c.attempt, 0, "hello\n", clock_.now_ms());
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->stored_offset, 0);
  EXPECT_EQ(appended->stored, "hello\n");
  // A repeat stores nothing new.
  auto repeat = store_->append_log(runner.id, j.id, c.attempt, 0, "hello\n", clock_.now_ms());
  EXPECT_EQ(repeat->next_offset, 6);
  EXPECT_TRUE(repeat->stored.empty());
  auto more = store_->append_log(runner.id, j.id, c.attempt, 6, "world\n", clock_.now_ms());
  EXPECT_EQ(more->stored_offset, 6);
  EXPECT_EQ(more->stored, "world\n");
  // Reads that start and end inside chunks.
  EXPECT_EQ(store_->read_log("t1", j.id, c.attempt, 3, 5)->data, "lo\nwo");
  EXPECT_EQ(store_->read_log("t1", j.id, c.attempt, 11, 100)->data, "\n");
  EXPECT_EQ(store_->read_log("t1", j.id, c.attempt, 12, 100)->data, "");
}

TEST_P(SqliteStoreTest, ABatchOfStartsIsOneCommit) {
  auto runner = register_runner("r1", "t1", 5);
  std::vector<AttemptRef> refs;
  for (int i = 0; i < 5; ++i) refs.push_back({submit().id, 1});
  ASSERT_EQ(claim(runner, 5).size(), 5u);
  uint64_t before = sqlite().commits();
  auto started = store_->start_attempts(runner.id, refs, clock_.now_ms());
  for (const auto& s : started) EXPECT_TRUE(s.ok());
  EXPECT_EQ(sqlite().commits() - before, 1u);
}

// Polls cond until it holds or 10 s pass.
bool within_10s(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_P(SqliteStoreTest, RoutineWritesWaitForCompanyAndAnyOtherWriteEndsTheWait) {
  reopen_with([](SqliteStoreOptions& o) {
    o.routine_write_delay = std::chrono::hours(1);  // only company ends the wait here
  });
  auto a = register_runner("a");
  auto b = register_runner("b");
  uint64_t before = sqlite().commits();
  std::thread beat_a([&] { EXPECT_TRUE(store_->heartbeat(a.id, {}, 1, kTestLease).ok()); });
  ASSERT_TRUE(within_10s([&] { return sqlite().queued_writes() == 1; }));
  std::thread beat_b([&] { EXPECT_TRUE(store_->heartbeat(b.id, {}, 2, kTestLease).ok()); });
  ASSERT_TRUE(within_10s([&] { return sqlite().queued_writes() == 2; }));
  EXPECT_EQ(sqlite().commits(), before);  // both heartbeats wait: routine writes alone
  submit();                               // not routine: the writer takes all three at once
  beat_a.join();
  beat_b.join();
  EXPECT_EQ(sqlite().commits() - before, 1u);
  EXPECT_EQ(store_->get_runner(a.id)->last_heartbeat_at, 1);
  EXPECT_EQ(store_->get_runner(b.id)->last_heartbeat_at, 2);
}

TEST_P(SqliteStoreTest, RoutineWritesStopWaitingOnceEnoughHaveGathered) {
  reopen_with([](SqliteStoreOptions& o) {
    o.routine_write_delay = std::chrono::hours(1);
    o.routine_write_company = 3;
  });
  std::vector<Runner> runners;
  for (const char* name : {"a", "b", "c"}) runners.push_back(register_runner(name));
  uint64_t before = sqlite().commits();
  std::vector<std::thread> beats;
  for (const auto& r : runners) {
    beats.emplace_back([&] { EXPECT_TRUE(store_->heartbeat(r.id, {}, 5, kTestLease).ok()); });
  }
  for (auto& t : beats) t.join();  // the third one in ends the wait of all three
  EXPECT_EQ(sqlite().commits() - before, 1u);
}

TEST_P(SqliteStoreTest, ARoutineWriteAloneWaitsOutItsDelayThenCommits) {
  reopen_with(
      [](SqliteStoreOptions& o) { o.routine_write_delay = std::chrono::milliseconds(200); });
  auto a = register_runner("a");
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(store_->heartbeat(a.id, {}, 7, kTestLease).ok());
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(store_->get_runner(a.id)->last_heartbeat_at, 7);
}

TEST_P(SqliteStoreTest, LogsLiveInOneFilePerAttempt) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  auto appended = store_->append_log(runner.id, j.id, c.attempt, 0, "hello\n", clock_.now_ms());
  ASSERT_TRUE(appended.ok());
  std::ifstream file(dir_ / "logs" / j.id / "1.log", std::ios::binary);
  std::string on_disk((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, "hello\n");
}

TEST_P(StoreTest, LogPastTheCapIsDroppedWithANote) {
  reopen(/*log_max_bytes=*/10);
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  EXPECT_EQ(store_->append_log(runner.id, j.id, c.attempt, 0, "0123456", 0)->stored, "0123456");
  auto over = store_->append_log(runner.id, j.id, c.attempt, 7, "789abc", 0);
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->next_offset, 13);  // the runner's offsets count every byte it sent
  EXPECT_EQ(over->stored_offset, 7);
  EXPECT_EQ(over->stored.substr(0, 4), "789\n");
  EXPECT_NE(over->stored.find("log truncated"), std::string::npos);
  auto after = store_->append_log(runner.id, j.id, c.attempt, 13, "more", 0);
  EXPECT_EQ(after->next_offset, 17);
  EXPECT_TRUE(after->stored.empty());
  auto log = store_->read_log("t1", j.id, 0, 0, 1 << 20);
  EXPECT_TRUE(log->truncated);
  EXPECT_EQ(log->data, "0123456" + over->stored);
  EXPECT_EQ(log->size, static_cast<int64_t>(log->data.size()));
  EXPECT_TRUE(job(j.id).attempts.at(0).log_truncated);
  // A gap is measured against what the runner sent, not what was kept.
  auto gap = store_->append_log(runner.id, j.id, c.attempt, 30, "x", 0);
  EXPECT_EQ(json::parse(gap.error().detail_json)["next_offset"], 17);
}

TEST_P(SqliteStoreTest, LogChunksOfAnOlderDatabaseMoveToFiles) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  store_.reset();
  {
    sqlite::Db db((dir_ / "corral.db").string());
    db.exec("CREATE TABLE log_chunks (job_id TEXT, attempt INTEGER, offset INTEGER, data BLOB)");
    db.prepare("INSERT INTO log_chunks VALUES (?, 1, 0, 'old '), (?, 1, 4, 'bytes')")
        .bind_all(j.id, j.id)
        .exec();
    db.exec("UPDATE attempts SET log_size = 9, log_received = 9");
  }
  SqliteStoreOptions options;
  options.path = (dir_ / "corral.db").string();
  store_ = std::move(SqliteStore::open(options).value());
  EXPECT_EQ(store_->read_log("t1", j.id, 0, 0, 100)->data, "old bytes");
  EXPECT_EQ(store_->append_log(runner.id, j.id, c.attempt, 9, "!", 0)->next_offset, 10);
  EXPECT_EQ(store_->read_log("t1", j.id, 0, 0, 100)->data, "old bytes!");
  sqlite::Db db((dir_ / "corral.db").string());
  EXPECT_FALSE(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'log_chunks'").step());
}

TEST_P(StoreTest, ExpiredLeaseRequeuesAsNextAttemptAndFencesTheOldOne) {
  auto a = register_runner("a");
  auto b = register_runner("b");
  auto j = submit();
  auto first = claim(a).at(0);
  ASSERT_TRUE(store_->start_attempt(a.id, j.id, 1, clock_.now_ms()).ok());
  clock_.advance_ms(kTestLease - 1);
  EXPECT_EQ(store_->expire_leases(clock_.now_ms())->lost_attempts, 0);
  clock_.advance_ms(2);
  auto sweep = store_->expire_leases(clock_.now_ms());
  ASSERT_TRUE(sweep.ok());
  ASSERT_EQ(sweep->requeued_job_ids, std::vector<std::string>{j.id});
  EXPECT_EQ(job(j.id).state, JobState::kQueued);
  auto second = claim(b).at(0);
  EXPECT_EQ(second.attempt, 2);
  // The first runner comes back: every call about attempt 1 is refused.
  auto log = store_->append_log(a.id, j.id, first.attempt, 0, "late", clock_.now_ms());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kConflict);
  FinishReport report;
  report.state = AttemptState::kSucceeded;
  auto fin = store_->finish_attempt(a.id, j.id, first.attempt, report, clock_.now_ms());
  ASSERT_FALSE(fin.ok());
  EXPECT_EQ(fin.error().code, ErrorCode::kConflict);
  // Runner b cannot use runner a's attempt number either.
  EXPECT_EQ(store_->start_attempt(a.id, j.id, 2, clock_.now_ms()).error().code,
            ErrorCode::kConflict);
  EXPECT_TRUE(store_->start_attempt(b.id, j.id, 2, clock_.now_ms()).ok());
  auto attempts = job(j.id).attempts;
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].state, AttemptState::kLost);
  EXPECT_EQ(attempts[0].reason, "runner_lost");
}

TEST_P(StoreTest, HeartbeatRenewsLeases) {
  auto a = register_runner("a");
  auto j = submit();
  claim(a);
  for (int i = 0; i < 5; ++i) {
    clock_.advance_ms(kTestLease / 2);
    HeartbeatReport hb;
    hb.running = {{j.id, 1}};
    auto commands = store_->heartbeat(a.id, hb, clock_.now_ms(), kTestLease);
    ASSERT_TRUE(commands.ok());
    EXPECT_TRUE(commands->empty());
    EXPECT_EQ(store_->expire_leases(clock_.now_ms())->lost_attempts, 0);
  }
  EXPECT_EQ(job(j.id).state, JobState::kLeased);
}

TEST_P(StoreTest, HeartbeatsKeepOneUsageSampleAMinuteForADay) {
  auto a = register_runner("a");
  auto b = register_runner("b");
  auto beat = [&](const Runner& r, double load, int running_jobs) {
    HeartbeatReport hb;
    hb.usage = {{"system",
                 {{"load_1m", load}, {"memory_available_bytes", 1000}, {"disk_free_bytes", 2000}}}};
    for (int i = 0; i < running_jobs; ++i) hb.running.push_back({"job_x" + std::to_string(i), 1});
    ASSERT_TRUE(store_->heartbeat(r.id, hb, clock_.now_ms(), kTestLease).ok());
  };
  TimeMs start = clock_.now_ms();
  beat(a, 0.5, 0);
  clock_.advance_ms(RunnerUsageSample::kEveryMs - 1);
  beat(a, 9.0, 0);  // within the minute: no sample
  ASSERT_TRUE(store_->heartbeat(a.id, {}, clock_.now_ms(), kTestLease).ok());  // no usage
  clock_.advance_ms(1);
  beat(a, 1.5, 2);
  beat(b, 7.0, 0);
  auto samples = store_->runner_usage(a.id, 0);
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_EQ((*samples)[0].at, start);
  EXPECT_DOUBLE_EQ((*samples)[0].load_1m, 0.5);
  EXPECT_EQ((*samples)[0].memory_available_bytes, 1000);
  EXPECT_EQ((*samples)[0].disk_free_bytes, 2000);
  EXPECT_EQ((*samples)[0].running, 0);
  EXPECT_DOUBLE_EQ((*samples)[1].load_1m, 1.5);
  EXPECT_EQ((*samples)[1].running, 2);  // the stale attempts it named still count as running
  EXPECT_EQ(store_->runner_usage(a.id, start + 1)->size(), 1u);
  EXPECT_EQ(store_->runner_usage(b.id, 0)->size(), 1u);

  // A day later the next sample drops the ones older than a day.
  clock_.advance_ms(RunnerUsageSample::kKeepMs);
  beat(a, 3.0, 0);
  samples = store_->runner_usage(a.id, 0);
  ASSERT_EQ(samples->size(), 2u);
  EXPECT_DOUBLE_EQ((*samples)[0].load_1m, 1.5);
  EXPECT_DOUBLE_EQ((*samples)[1].load_1m, 3.0);

  // A deleted runner's samples go with it.
  ASSERT_TRUE(store_->delete_runner("t1", a.id, clock_.now_ms()).ok());
  EXPECT_TRUE(store_->runner_usage(a.id, 0)->empty());
  EXPECT_EQ(store_->runner_usage(b.id, 0)->size(), 1u);
}

TEST_P(StoreTest, TouchingATokenRecordsItsLastUseAtMostOnceAMinute) {
  Token token;
  token.id = new_id("tok");
  token.kind = TokenKind::kUser;
  token.tenant = "t1";
  token.name = "someone";
  token.hash = sha256_hex("secret-of-someone");
  token.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->insert_token(token).ok());
  EXPECT_EQ(store_->get_token(token.id)->last_used_at, 0);
  TimeMs first = clock_.now_ms();
  ASSERT_TRUE(store_->touch_token(token.id, first).ok());
  EXPECT_EQ(store_->get_token(token.id)->last_used_at, first);
  clock_.advance_ms(59'999);
  ASSERT_TRUE(store_->touch_token(token.id, clock_.now_ms()).ok());
  EXPECT_EQ(store_->get_token(token.id)->last_used_at, first);
  clock_.advance_ms(1);
  ASSERT_TRUE(store_->touch_token(token.id, clock_.now_ms()).ok());
  EXPECT_EQ(store_->get_token(token.id)->last_used_at, clock_.now_ms());
  auto found = store_->find_token_by_hash(token.hash);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_used_at, clock_.now_ms());
}

TEST_P(StoreTest, WorkflowRunsAreWrittenOnlyOverTheVersionReadAndLoseTheirSecretsWhenDone) {
  WorkflowRunRecord run;
  run.id = new_id("wfr");
  run.tenant = "t1";
  run.owner_token_id = "user";
  run.name = "ci";
  run.state = "queued";
  run.event = "push";
  run.delivery = "delivery-1";
  run.created_at = run.updated_at = clock_.now_ms();
  run.doc = {{"jobs", json::array()}};
  run.secrets = {{"TOKEN", "s3cret"}};
  ASSERT_TRUE(store_->insert_workflow_run(run).ok());
  WorkflowRunRecord again = run;
  again.id = new_id("wfr");
  EXPECT_EQ(store_->insert_workflow_run(again).error().code,
            ErrorCode::kConflict);  // same delivery
  again.tenant = "t2";
  EXPECT_TRUE(store_->insert_workflow_run(again).ok());               // another tenant's may
  EXPECT_FALSE(store_->get_workflow_run("t2", run.id)->has_value());  // tenants apart

  auto found = store_->find_workflow_run_by_delivery("t1", "delivery-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, run.id);
  EXPECT_EQ((*found)->secrets, run.secrets);
  auto active = store_->active_workflow_runs();
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 2u);

  // Two writers read version 0: the first wins, the second must read again.
  WorkflowRunRecord first = **found, second = **found;
  first.state = "running";
  first.doc = {{"jobs", json::array({{{"key", "a"}}})}};
  second.state = "canceled";
  ASSERT_TRUE(*store_->update_workflow_run(first));
  EXPECT_FALSE(*store_->update_workflow_run(second));
  auto now = store_->get_workflow_run("t1", run.id);
  EXPECT_EQ((*now)->state, "running");
  EXPECT_EQ((*now)->version, 1);
  EXPECT_EQ((*now)->doc, first.doc);

  WorkflowRunRecord done = **now;
  done.state = "succeeded";
  done.finished_at = clock_.now_ms();
  ASSERT_TRUE(*store_->update_workflow_run(done));
  now = store_->get_workflow_run("t1", run.id);
  EXPECT_TRUE((*now)->secrets.empty());  // deleted with the run's end
  EXPECT_EQ(store_->active_workflow_runs()->size(), 1u);
  auto listed = store_->list_workflow_runs("t1", 10, 0, "");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, run.id);
}

TEST_P(StoreTest, WorkflowRunsPageNewestFirstWithoutSkippingRunsOfTheSameMillisecond) {
  // Five runs, three of them made in the same millisecond: pages of two see each once.
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) {
    WorkflowRunRecord run;
    run.id = new_id("wfr");
    run.tenant = "t1";
    run.name = "ci";
    run.state = "queued";
    run.event = "manual";
    run.created_at = run.updated_at = clock_.now_ms();
    ASSERT_TRUE(store_->insert_workflow_run(run).ok());
    made.push_back(run.id);
    if (i != 1 && i != 2) clock_.advance_ms(5);
  }
  WorkflowRunRecord other;
  other.id = new_id("wfr");
  other.tenant = "t2";
  other.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->insert_workflow_run(other).ok());

  std::vector<std::string> seen;
  TimeMs after_created = 0;
  std::string after_id;
  for (int page = 0; page < 5; ++page) {
    auto listed = store_->list_workflow_runs("t1", 2, after_created, after_id);
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    if (listed->empty()) break;
    EXPECT_LE(listed->size(), 2u);
    for (const auto& r : *listed) seen.push_back(r.id);
    after_created = listed->back().created_at;
    after_id = listed->back().id;
  }
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()),
            std::set<std::string>(made.begin(), made.end()));
  EXPECT_EQ(seen.front(), made.back());  // newest first
  EXPECT_EQ(seen.back(), made.front());
}

TEST_P(StoreTest, MaxAttemptsExhaustedFailsWithRunnerLost) {
  auto a = register_runner("a");
  auto j = submit("t1", 2);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto c = claim(a);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].attempt, attempt);
    clock_.advance_ms(kTestLease + 1);
    ASSERT_TRUE(store_->expire_leases(clock_.now_ms()).ok());
  }
  auto failed = job(j.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.reason, "runner_lost");
  EXPECT_TRUE(claim(a).empty());
}

TEST_P(StoreTest, CancelQueuedIsImmediateAndRunningGoesThroughHeartbeat) {
  auto a = register_runner("a");
  auto queued = submit();
  auto canceled = store_->cancel_job("t1", queued.id, clock_.now_ms());
  ASSERT_TRUE(canceled.ok());
  EXPECT_EQ(canceled->state, JobState::kCanceled);
  EXPECT_EQ(store_->cancel_job("t1", queued.id, clock_.now_ms()).error().code,
            ErrorCode::kConflict);

  auto running = submit();
  claim(a);
  ASSERT_TRUE(store_->start_attempt(a.id, running.id, 1, clock_.now_ms()).ok());
  auto requested = store_->cancel_job("t1", running.id, clock_.now_ms());
  EXPECT_EQ(requested->state, JobState::kRunning);
  EXPECT_TRUE(requested->cancel_requested);
  HeartbeatReport hb;
  hb.running = {{running.id, 1}};
  auto commands = store_->heartbeat(a.id, hb, clock_.now_ms(), kTestLease);
  ASSERT_EQ(commands->size(), 1u);
  EXPECT_EQ(commands->at(0).type, "cancel");
  EXPECT_EQ(commands->at(0).job_id, running.id);
  // logs are still accepted until the runner finishes
  EXPECT_TRUE(store_->append_log(a.id, running.id, 1, 0, "bye\n", clock_.now_ms()).ok());
  FinishReport report;
  report.state = AttemptState::kFailed;
  report.exit_code = 137;
  auto fin = store_->finish_attempt(a.id, running.id, 1, report, clock_.now_ms());
  EXPECT_EQ(fin->state, JobState::kCanceled);
}

TEST_P(StoreTest, CancelOfLeasedJobRefusesItsStart) {
  auto a = register_runner("a");
  auto j = submit();
  claim(a);
  EXPECT_EQ(store_->cancel_job("t1", j.id, clock_.now_ms())->state, JobState::kCanceled);
  EXPECT_EQ(store_->start_attempt(a.id, j.id, 1, clock_.now_ms()).error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(store_->get_runner(a.id)->status, RunnerStatus::kIdle);
}

TEST_P(StoreTest, HeartbeatTellsRunnerToKillStaleAttempts) {
  auto a = register_runner("a");
  auto j = submit();
  claim(a);
  clock_.advance_ms(kTestLease + 1);
  ASSERT_TRUE(store_->expire_leases(clock_.now_ms()).ok());
  HeartbeatReport hb;
  hb.running = {{j.id, 1}};
  auto commands = store_->heartbeat(a.id, hb, clock_.now_ms(), kTestLease);
  ASSERT_EQ(commands->size(), 1u);
  EXPECT_EQ(commands->at(0).reason, "stale");
}

TEST_P(StoreTest, ReRegistrationKeepsIdAndLosesWhatTheRunnerNoLongerRuns) {
  auto a = register_runner("a");
  auto kept = submit();
  auto dropped = submit();
  RunnerRegistration reg;
  reg.name = "a";
  reg.max_concurrent_jobs = 2;
  ASSERT_TRUE(store_->register_runner("t1", "tok", reg, sha256_hex("x"), clock_.now_ms()).ok());
  ASSERT_EQ(claim(store_->get_runner(a.id).value(), 2).size(), 2u);
  reg.running = {{kept.id, 1}};
  auto again = store_->register_runner("t1", "tok", reg, sha256_hex("new"), clock_.now_ms());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, a.id);
  EXPECT_EQ(again->secret_hash, sha256_hex("new"));
  EXPECT_EQ(job(kept.id).state, JobState::kLeased);
  EXPECT_EQ(job(dropped.id).state, JobState::kQueued);
}

TEST_P(StoreTest, StaleRunnersGoOfflineAndComeBackOnHeartbeat) {
  auto a = register_runner("a");
  clock_.advance_ms(31'000);
  auto offline = store_->mark_stale_runners_offline(clock_.now_ms() - 30'000);
  ASSERT_EQ(offline->size(), 1u);
  EXPECT_EQ(store_->get_runner(a.id)->status, RunnerStatus::kOffline);
  EXPECT_TRUE(store_->mark_stale_runners_offline(clock_.now_ms() - 30'000)->empty());
  ASSERT_TRUE(store_->heartbeat(a.id, {}, clock_.now_ms(), kTestLease).ok());
  EXPECT_EQ(store_->get_runner(a.id)->status, RunnerStatus::kIdle);
  HeartbeatReport bye;
  bye.going_away = true;
  ASSERT_TRUE(store_->heartbeat(a.id, bye, clock_.now_ms(), kTestLease).ok());
  EXPECT_EQ(store_->get_runner(a.id)->status, RunnerStatus::kOffline);
  // A claim that was still parked when the runner said goodbye gets nothing.
  submit();
  EXPECT_TRUE(claim(store_->get_runner(a.id).value()).empty());
}

TEST_P(StoreTest, IdempotencyKeyReturnsTheSameJob) {
  Job j;
  j.id = new_id("job");
  j.tenant = "t1";
  j.spec.command = {"true"};
  j.idempotency_key = "pr-42";
  auto first = store_->create_job(j, kNoJobCap);
  j.id = new_id("job");
  auto second = store_->create_job(j, kNoJobCap);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->job.id, second->job.id);
  j.tenant = "t2";  // keys are per tenant
  EXPECT_TRUE(store_->create_job(j, kNoJobCap)->created);
}

// A batch submit (POST /api/v1/jobs/batch): one transaction, all of the jobs or none.
TEST_P(StoreTest, CreateJobsStoresEveryJobOrNone) {
  auto batch = [&](int n, const std::string& key) {
    std::vector<Job> jobs(n);
    for (int i = 0; i < n; ++i) {
      jobs[i].id = new_id("job");
      jobs[i].tenant = "t1";
      jobs[i].spec.command = {"true"};
      jobs[i].created_at = clock_.now_ms();
      if (!key.empty()) jobs[i].idempotency_key = key + "/" + std::to_string(i);
    }
    return jobs;
  };
  auto first = batch(3, "nightly");
  auto made = store_->create_jobs(first, kNoJobCap);
  ASSERT_TRUE(made.ok()) << made.error().message;
  ASSERT_EQ(made->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE((*made)[i].created);
    EXPECT_EQ((*made)[i].job.id, first[i].id);
    if (i > 0) {
      EXPECT_GT((*made)[i].job.seq, (*made)[i - 1].job.seq);  // claimed in this order
    }
  }
  EXPECT_EQ(*store_->count_unfinished_jobs("t1"), 3);

  // The second job repeats an existing job's id: the batch fails and its first job is gone too.
  auto clash = batch(2, "");
  clash[1].id = first[0].id;
  EXPECT_FALSE(store_->create_jobs(clash, kNoJobCap).ok());
  EXPECT_EQ(store_->get_job("t1", clash[0].id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*store_->count_unfinished_jobs("t1"), 3);

  // The same keys again: the jobs the first batch made.
  auto again = store_->create_jobs(batch(3, "nightly"), kNoJobCap);
  ASSERT_TRUE(again.ok()) << again.error().message;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE((*again)[i].created);
    EXPECT_EQ((*again)[i].job.id, first[i].id);
  }
  EXPECT_EQ(*store_->count_unfinished_jobs("t1"), 3);
}

TEST_P(StoreTest, ListJobsPaginatesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(submit().id);
  JobQuery q;
  q.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    auto page = store_->list_jobs("t1", q);
    ASSERT_TRUE(page.ok());
    for (auto& j : page->jobs) seen.push_back(j.id);
    if (!page->next_cursor) break;
    q.cursor = page->next_cursor;
  }
  std::reverse(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids);
}

TEST_P(StoreTest, RetryableFailureWaitsItsBackoffThenRunsAgain) {
  auto runner = register_runner("r1");
  Job j;
  j.id = new_id("job");
  j.tenant = "t1";
  j.spec.command = {"true"};
  j.spec.max_attempts = 3;
  j.spec.retry.backoff_s = {30, 60};
  j.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->create_job(j, kNoJobCap).ok());
  auto fail = [&](int attempt, const std::string& reason) {
    EXPECT_TRUE(store_->start_attempt(runner.id, j.id, attempt, clock_.now_ms()).ok());
    FinishReport report;
    report.state = AttemptState::kFailed;
    report.exit_code = 1;
    report.reason = reason;
    return store_->finish_attempt(runner.id, j.id, attempt, report, clock_.now_ms()).value();
  };
  ASSERT_EQ(claim(runner).size(), 1u);
  auto after_first = fail(1, "transient");
  EXPECT_EQ(after_first.state, JobState::kQueued);
  EXPECT_EQ(after_first.not_before, clock_.now_ms() + 30'000);
  EXPECT_EQ(after_first.reason, "transient");
  EXPECT_EQ(after_first.attempts.at(0).state, AttemptState::kFailed);  // the attempt stays visible
  EXPECT_EQ(store_->get_runner(runner.id)->status, RunnerStatus::kIdle);

  clock_.advance_ms(29'999);
  EXPECT_TRUE(claim(runner).empty());  // still backing off
  clock_.advance_ms(1);
  auto second = claim(runner);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt, 2);
  auto after_second = fail(2, "image_pull");
  EXPECT_EQ(after_second.not_before, clock_.now_ms() + 60'000);

  clock_.advance_ms(60'000);
  ASSERT_EQ(claim(runner).at(0).attempt, 3);
  auto last = fail(3, "transient");  // attempts used up
  EXPECT_EQ(last.state, JobState::kFailed);
  EXPECT_EQ(last.reason, "transient");
  EXPECT_EQ(last.attempts.size(), 3u);
}

TEST_P(StoreTest, FailureTheRetryPolicyDoesNotNameFailsAtOnce) {
  auto runner = register_runner("r1");
  auto j = submit();
  auto c = claim(runner).at(0);
  ASSERT_TRUE(store_->start_attempt(runner.id, j.id, c.attempt, clock_.now_ms()).ok());
  FinishReport report;
  report.state = AttemptState::kFailed;
  report.exit_code = 2;  // a plain non-zero exit: "exit_code", not retried by default
  auto done = store_->finish_attempt(runner.id, j.id, c.attempt, report, clock_.now_ms());
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_EQ(done->exit_code, 2);
}

TEST_P(StoreTest, LostAttemptIsNotRetriedWhenThePolicyLeavesRunnerLostOut) {
  auto runner = register_runner("r1");
  Job j;
  j.id = new_id("job");
  j.tenant = "t1";
  j.spec.command = {"true"};
  j.spec.retry.on = {FailureReason::kTransient};
  j.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->create_job(j, kNoJobCap).ok());
  ASSERT_EQ(claim(runner).size(), 1u);
  clock_.advance_ms(kTestLease + 1);
  ASSERT_TRUE(store_->expire_leases(clock_.now_ms()).ok());
  auto lost = job(j.id);
  EXPECT_EQ(lost.state, JobState::kFailed);
  EXPECT_EQ(lost.reason, "runner_lost");
}

// Fair share is the same whichever way a claim decides (the normal rule, which PostgreSQL
// evaluates in SQL, or a matcher called job by job). Each way runs in a tenant of its own.
TEST_P(StoreTest, FairShareOneOwnersFloodDoesNotStarveAnothersJob) {
  for (bool by_matcher : {false, true}) {
    SCOPED_TRACE(by_matcher ? "by matcher" : "by normal rule");
    std::string tenant = by_matcher ? "t-matcher" : "t-rule";
    auto runner = register_runner("r1", tenant, 1);
    auto submit_as = [&](const std::string& owner, int priority = 0) {
      Job j;
      j.id = new_id("job");
      j.tenant = tenant;
      j.owner_token_id = owner;
      j.spec.command = {"true"};
      j.spec.priority = priority;
      j.created_at = clock_.now_ms();
      clock_.advance_ms(1);
      return store_->create_job(j, kNoJobCap)->job;
    };
    for (int i = 0; i < 500; ++i) submit_as("flood");
    auto single = submit_as("other");
    auto run_one = [&] {
      auto c = claim(runner, 1, by_matcher);
      EXPECT_EQ(c.size(), 1u);
      FinishReport ok;
      EXPECT_TRUE(store_->start_attempt(runner.id, c.at(0).job_id, 1, clock_.now_ms()).ok());
      EXPECT_TRUE(store_->finish_attempt(runner.id, c.at(0).job_id, 1, ok, clock_.now_ms()).ok());
      clock_.advance_ms(10);
      return c.at(0).job_id;
    };
    auto owner_of = [&](const std::string& id) { return job(id, tenant).owner_token_id; };
    // The flood's oldest goes first (nobody served yet, it is older); the other owner's
    // single job goes next, not after 500.
    EXPECT_EQ(owner_of(run_one()), "flood");
    EXPECT_EQ(run_one(), single.id);
    EXPECT_EQ(owner_of(run_one()), "flood");
    // Alternation among three owners at one priority; a higher priority still goes first.
    submit_as("third");
    submit_as("other");
    auto urgent = submit_as("flood", 5);
    EXPECT_EQ(run_one(), urgent.id);
    std::vector<std::string> order;
    for (int i = 0; i < 3; ++i) order.push_back(owner_of(run_one()));
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, (std::vector<std::string>{"flood", "other", "third"}));
  }
}

// A claim finds a job it may take however many jobs it may not take are queued before it,
// by the same submitter: the store skips jobs alike in labels, group and type together
// (a claim once read at most 2,048 of a submitter's jobs and gave up).
TEST_P(StoreTest, AJobBehindThousandsOfJobsTheRunnerCannotTakeIsStillClaimed) {
  for (bool by_matcher : {false, true}) {
    SCOPED_TRACE(by_matcher ? "by matcher" : "by normal rule");
    std::string tenant = by_matcher ? "t-matcher" : "t-rule";
    auto runner = register_runner("r1", tenant, 1);
    auto submit_needing = [&](std::vector<std::string> labels) {
      Job j;
      j.id = new_id("job");
      j.tenant = tenant;
      j.owner_token_id = "one-user";
      j.spec.command = {"true"};
      j.spec.labels = std::move(labels);
      j.created_at = clock_.now_ms();
      auto created = store_->create_job(j, kNoJobCap);
      EXPECT_TRUE(created.ok());
      return created->job;
    };
    for (int i = 0; i < 2100; ++i) submit_needing({"gpu"});
    auto plain = submit_needing({});
    // By matcher: the normal rule's predicate, which the store must call job by job.
    auto claim_one = [&](const Runner& r) {
      JobMatcher can_take = [](const Runner& r, const Job& j) { return runner_can_take(r, j); };
      auto c = by_matcher ? store_->claim(r.id, 1, clock_.now_ms(), kTestLease, can_take)
                          : store_->claim(r.id, 1, clock_.now_ms(), kTestLease, normal_rule());
      EXPECT_TRUE(c.ok());
      return c.ok() ? *c : std::vector<ClaimedJob>{};
    };
    auto got = claim_one(runner);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].job_id, plain.id);
    EXPECT_TRUE(claim_one(register_runner("r2", tenant, 1)).empty());
  }
}

TEST_P(StoreTest, FairShareGivesASecondSlotToTheOwnerWithLessInFlight) {
  for (bool by_matcher : {false, true}) {
    SCOPED_TRACE(by_matcher ? "by matcher" : "by normal rule");
    std::string tenant = by_matcher ? "t-matcher" : "t-rule";
    auto runner = register_runner("r1", tenant, 4);
    auto submit_as = [&](const std::string& owner) {
      Job j;
      j.id = new_id("job");
      j.tenant = tenant;
      j.owner_token_id = owner;
      j.spec.command = {"true"};
      j.created_at = clock_.now_ms();
      clock_.advance_ms(1);
      return store_->create_job(j, kNoJobCap)->job;
    };
    for (int i = 0; i < 10; ++i) submit_as("a");
    for (int i = 0; i < 2; ++i) submit_as("b");
    // Neither has a job in flight: four slots alternate a, b, a, b, not a's four oldest.
    auto got = claim(runner, 4, by_matcher);
    ASSERT_EQ(got.size(), 4u);
    std::map<std::string, int> per_owner;
    for (const auto& c : got) ++per_owner[job(c.job_id, tenant).owner_token_id];
    EXPECT_EQ(per_owner["a"], 2);
    EXPECT_EQ(per_owner["b"], 2);
  }
}

// The normal rule evaluated by the store (SQL on PostgreSQL) agrees with runner_can_take for
// every runner and job below: labels, group, modes, owner-only, tenant.
TEST_P(StoreTest, NormalRuleInTheStoreAgreesWithRunnerCanTake) {
  struct RunnerCase {
    std::vector<std::string> labels;
    std::string group;
    std::vector<std::string> modes;
    bool owner_only;
  };
  const std::vector<RunnerCase> runner_cases = {
      {{}, "", {}, false},
      {{"gpu", "linux"}, "", {}, false},
      {{"linux"}, "team-a", {"review"}, false},
      {{"gpu", "linux"}, "team-a", {"all"}, true},
      {{"linux"}, "", {"build", "review"}, true},
  };
  struct JobCase {
    std::vector<std::string> labels;
    std::string group;
    std::string type;
    std::string owner;
    std::string tenant;
  };
  const std::vector<JobCase> job_cases = {
      {{}, "", "", "alice", "t1"},
      {{"linux"}, "", "", "bob", "t1"},
      {{"gpu", "linux"}, "", "review", "alice", "t1"},
      {{"gpu"}, "team-a", "", "bob", "t1"},
      {{}, "team-a", "build", "alice", "t1"},
      {{}, "team-b", "", "alice", "t1"},
      {{"mac"}, "", "", "alice", "t1"},
      {{}, "", "build", "bob", "t1"},
      {{}, "", "", "alice", "t2"},
  };
  // The runners' registration token was made by alice: owner-only runners take her jobs.
  Token reg_token;
  reg_token.id = "tok-matrix";
  reg_token.kind = TokenKind::kRunner;
  reg_token.tenant = "t1";
  reg_token.name = "matrix";
  reg_token.hash = sha256_hex("matrix-secret");
  reg_token.created_by = "alice";
  ASSERT_TRUE(store_->insert_token(reg_token).ok());
  int checked = 0;
  for (size_t ri = 0; ri < runner_cases.size(); ++ri) {
    const auto& rc = runner_cases[ri];
    RunnerRegistration reg;
    reg.name = "matrix-" + std::to_string(ri);
    reg.labels = rc.labels;
    reg.group = rc.group;
    reg.modes = rc.modes;
    reg.owner_only = rc.owner_only;
    reg.max_concurrent_jobs = 100;
    auto runner =
        store_->register_runner("t1", reg_token.id, reg, sha256_hex(reg.name), clock_.now_ms());
    ASSERT_TRUE(runner.ok());
    ASSERT_EQ(runner->owner_token_id, "alice");
    std::set<std::string> expected;
    for (const auto& jc : job_cases) {
      Job j;
      j.id = new_id("job");
      j.tenant = jc.tenant;
      j.owner_token_id = jc.owner;
      j.spec.command = {"true"};
      j.spec.labels = jc.labels;
      j.spec.group = jc.group;
      j.spec.type = jc.type;
      j.created_at = clock_.now_ms();
      ASSERT_TRUE(store_->create_job(j, kNoJobCap).ok());
      if (runner_can_take(*runner, j)) expected.insert(j.id);
    }
    auto got = store_->claim(runner->id, 100, clock_.now_ms(), kTestLease, normal_rule());
    ASSERT_TRUE(got.ok()) << got.error().message;
    std::set<std::string> taken;
    for (const auto& c : *got) taken.insert(c.job_id);
    EXPECT_EQ(taken, expected) << "runner case " << ri;
    checked += static_cast<int>(job_cases.size());
    // What this runner left stays queued for no one else: cancel it before the next case.
    for (const std::string tenant : {"t1", "t2"}) {
      auto queued = store_->queued_jobs(tenant, 1000);
      ASSERT_TRUE(queued.ok());
      for (const auto& q : *queued) {
        auto canceled = store_->cancel_job(tenant, q.id, clock_.now_ms());
        ASSERT_TRUE(canceled.ok()) << canceled.error().message;
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(runner_cases.size() * job_cases.size()));
}

TEST_P(StoreTest, NormalRuleGivesAStaleOrDrainingRunnerNothing) {
  auto runner = register_runner("r1");
  submit();
  clock_.advance_ms(5000);
  // Its last heartbeat is 5 s old: with fresh_since after it, nothing; at it, the job.
  auto stale = store_->claim(runner.id, 1, clock_.now_ms(), kTestLease,
                             normal_rule(runner.last_heartbeat_at + 1));
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->empty());
  ASSERT_TRUE(store_->drain_runner("t1", runner.id).ok());
  auto draining = store_->claim(runner.id, 1, clock_.now_ms(), kTestLease,
                                normal_rule(runner.last_heartbeat_at));
  ASSERT_TRUE(draining.ok());
  EXPECT_TRUE(draining->empty());
  auto other = register_runner("r2");
  auto fresh =
      store_->claim(other.id, 1, clock_.now_ms(), kTestLease, normal_rule(other.last_heartbeat_at));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->size(), 1u);
  auto unknown = store_->claim("no-such-runner", 1, clock_.now_ms(), kTestLease, normal_rule());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, ListJobsFiltersByLabelAndRunner) {
  Job gpu_job;
  {
    Job j;
    j.id = new_id("job");
    j.tenant = "t1";
    j.spec.command = {"true"};
    j.spec.labels = {"gpu", "linux"};
    j.created_at = clock_.now_ms();
    gpu_job = store_->create_job(j, kNoJobCap)->job;
  }
  auto plain = submit();
  auto runner = register_runner("r1");
  ASSERT_EQ(claim(runner, 1, /*by_matcher=*/true).at(0).job_id, gpu_job.id);  // the older one

  JobQuery by_label;
  by_label.label = "gpu";
  auto page = store_->list_jobs("t1", by_label);
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id, gpu_job.id);

  for (const std::string& who : {runner.id, std::string("r1")}) {
    JobQuery by_runner;
    by_runner.runner = who;
    auto ran = store_->list_jobs("t1", by_runner);
    ASSERT_EQ(ran->jobs.size(), 1u) << who;
    EXPECT_EQ(ran->jobs[0].id, gpu_job.id);
  }
  JobQuery other_tenant_runner;
  other_tenant_runner.runner = "r1";
  EXPECT_TRUE(store_->list_jobs("t2", other_tenant_runner)->jobs.empty());
  (void)plain;
}

TEST_P(StoreTest, ListJobsByStateGivesEachStatesJobsNewestFirstPageByPage) {
  // Jobs in flight are listed through their own index, the others by walking the tenant's
  // jobs: every state must come out whole, newest first, and only the tenant's.
  auto runner = register_runner("r1", "t1", 4);
  std::vector<Job> jobs;
  for (int i = 0; i < 7; ++i) jobs.push_back(submit());
  auto claimed = claim(runner, 4);  // the four oldest
  ASSERT_EQ(claimed.size(), 4u);
  ASSERT_TRUE(store_->start_attempt(runner.id, jobs[1].id, 1, clock_.now_ms()).ok());
  ASSERT_TRUE(store_->start_attempt(runner.id, jobs[2].id, 1, clock_.now_ms()).ok());
  FinishReport done;
  done.state = AttemptState::kSucceeded;
  ASSERT_TRUE(store_->finish_attempt(runner.id, jobs[2].id, 1, done, clock_.now_ms()).ok());
  auto other = register_runner("r2", "t2");
  submit("t2");
  ASSERT_EQ(claim(other).size(), 1u);  // another tenant's job in flight

  auto listed = [&](JobState state) {
    JobQuery q;
    q.state = state;
    q.limit = 1;
    std::vector<std::string> ids;
    for (;;) {
      auto page = store_->list_jobs("t1", q);
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      for (const auto& j : page->jobs) ids.push_back(j.id);
      if (!page->next_cursor) break;
      q.cursor = page->next_cursor;
    }
    return ids;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(listed(JobState::kLeased), (Ids{jobs[3].id, jobs[0].id}));
  EXPECT_EQ(listed(JobState::kRunning), (Ids{jobs[1].id}));
  EXPECT_EQ(listed(JobState::kSucceeded), (Ids{jobs[2].id}));
  EXPECT_EQ(listed(JobState::kQueued), (Ids{jobs[6].id, jobs[5].id, jobs[4].id}));
  EXPECT_TRUE(listed(JobState::kFailed).empty());
}

TEST_P(StoreTest, JobStatsCountsOutcomesPerHourWithMedians) {
  constexpr TimeMs kHour = 3'600'000;
  clock_.set_ms(100 * kHour);  // on an hour boundary
  auto runner = register_runner("r1", "t1", 4);
  auto run = [&](TimeMs wait, TimeMs duration, AttemptState end) {
    auto j = submit();
    clock_.advance_ms(wait);
    auto c = claim(runner).at(0);
    EXPECT_TRUE(store_->start_attempt(runner.id, j.id, c.attempt, clock_.now_ms()).ok());
    clock_.advance_ms(duration);
    FinishReport report;
    report.state = end;
    EXPECT_TRUE(store_->finish_attempt(runner.id, j.id, c.attempt, report, clock_.now_ms()).ok());
  };
  run(1'000, 10'000, AttemptState::kSucceeded);  // finishes in hour 100
  run(3'000, 20'000, AttemptState::kFailed);
  clock_.set_ms(102 * kHour + 5);
  run(2'000, 40'000, AttemptState::kSucceeded);  // hour 102
  auto queued_then_canceled = submit();
  ASSERT_TRUE(store_->cancel_job("t1", queued_then_canceled.id, clock_.now_ms()).ok());

  auto stats = store_->job_stats("t1", 24, clock_.now_ms());
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->hours.size(), 24u);
  EXPECT_EQ(stats->hours.back().start, 102 * kHour);
  EXPECT_EQ(stats->hours.front().start, 79 * kHour);
  const auto& h100 = stats->hours[21];
  EXPECT_EQ(h100.start, 100 * kHour);
  EXPECT_EQ(h100.succeeded, 1);
  EXPECT_EQ(h100.failed, 1);
  EXPECT_EQ(stats->hours[23].succeeded, 1);
  EXPECT_EQ(stats->hours[23].canceled, 1);
  EXPECT_EQ(stats->succeeded, 2);
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(stats->canceled, 1);
  // Medians over the three jobs that started (the canceled one never did).
  EXPECT_EQ(stats->median_queue_wait_ms, 2'000);
  EXPECT_EQ(stats->median_run_ms, 20'000);
  EXPECT_TRUE(store_->job_stats("t2", 24, clock_.now_ms())->hours.size() == 24u);
  EXPECT_EQ(store_->job_stats("t2", 24, clock_.now_ms())->succeeded, 0);
}

TEST_P(StoreTest, ConcurrentSubmitsAllLand) {
  constexpr int kThreads = 16, kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) submit();
    });
  }
  for (auto& t : threads) t.join();
  auto stats = store_->queue_stats("t1", clock_.now_ms());
  EXPECT_EQ(stats->by_state["queued"], kThreads * kPerThread);
}

// RUNNER_DESCRIPTION (Monk CI's) and RUNNER_HOSTNAME (ADOS Work Runner's) come in with the
// registration; a restart replaces them, as it does the labels.
TEST_P(StoreTest, RegistrationKeepsDescriptionAndHostnameAndARestartReplacesThem) {
  RunnerRegistration reg;
  reg.name = "monk-box";
  reg.description = "the build box under the stairs";
  reg.system.hostname = "ados-host-1";
  auto first = store_->register_runner("t1", "tok", reg, sha256_hex("a"), clock_.now_ms());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->reg.description, "the build box under the stairs");
  auto read = store_->get_runner(first->id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->reg.description, "the build box under the stairs");
  EXPECT_EQ(read->reg.system.hostname, "ados-host-1");

  reg.description = "moved to the rack";
  ASSERT_TRUE(store_->register_runner("t1", "tok", reg, sha256_hex("b"), clock_.now_ms()).ok());
  auto listed = store_->list_runners("t1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().reg.description, "moved to the rack");
  EXPECT_EQ(to_json(listed->front())["description"], "moved to the rack");
}

// The queue summary and the per-tenant limit read counts the store keeps as jobs change
// state (job_counts): after every kind of change they agree with counting the jobs.
// The brief listing (queue explanations, /metrics) has what they read and not the rest: the
// usage report's health only, no capabilities or system; a health that is not an object is
// kept as the full listing keeps it, or dropped, never an error.
TEST_P(StoreTest, TheBriefRunnerListingKeepsHealthAndLeavesOutTheRest) {
  auto sick = register_runner("a-sick");
  auto fine = register_runner("b-fine");
  auto odd = register_runner("c-odd");
  auto beat = [&](const Runner& r, json usage) {
    HeartbeatReport report;
    report.usage = std::move(usage);
    ASSERT_TRUE(store_->heartbeat(r.id, report, clock_.now_ms(), kTestLease).ok());
  };
  beat(sick, {{"health", {{"state", "error"}, {"reasons", {"disk full"}}}}, {"load_1m", 3.5}});
  beat(fine, {{"load_1m", 0.5}});
  beat(odd, {{"health", "ok"}});
  auto full = store_->list_runners("t1");
  auto brief = store_->list_runners("t1", RunnerListing::kBrief);
  ASSERT_TRUE(full.ok()) << full.error().message;
  ASSERT_TRUE(brief.ok()) << brief.error().message;
  ASSERT_EQ(brief->size(), 3u);
  for (size_t i = 0; i < brief->size(); ++i) {
    SCOPED_TRACE((*full)[i].reg.name);
    EXPECT_EQ((*brief)[i].id, (*full)[i].id);
    EXPECT_EQ((*brief)[i].reg.labels, (*full)[i].reg.labels);
    EXPECT_EQ((*brief)[i].status, (*full)[i].status);
    EXPECT_EQ((*brief)[i].last_heartbeat_at, (*full)[i].last_heartbeat_at);
    EXPECT_EQ(shown_status((*brief)[i]), shown_status((*full)[i]));
    EXPECT_EQ((*brief)[i].reg.capabilities, json::object());
    EXPECT_FALSE((*brief)[i].usage.contains("load_1m"));
  }
  EXPECT_EQ((*brief)[0].usage,
            json({{"health", {{"state", "error"}, {"reasons", {"disk full"}}}}}));
  EXPECT_EQ(shown_status((*brief)[0]), "error");
  EXPECT_EQ((*brief)[1].usage, json::object());
}

// A command's answer may never reach the runner (a parked claim it had just dropped): one left
// unanswered is delivered again after kRedeliverControlMs, and not before; an answered one never.
TEST_P(StoreTest, AnUnansweredRunnerCommandIsDeliveredAgainLater) {
  auto runner = register_runner("r1");
  RunnerControl control;
  control.id = new_id("cmd");
  control.tenant = "t1";
  control.runner_id = runner.id;
  control.type = "restart";
  control.created_at = clock_.now_ms();
  ASSERT_TRUE(store_->add_runner_control(control).ok());
  TimeMs t0 = clock_.now_ms();
  auto first = store_->deliver_runner_controls(runner.id, t0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front().state, "delivered");
  EXPECT_TRUE(store_->deliver_runner_controls(runner.id, t0 + kRedeliverControlMs - 1)->empty());
  auto again = store_->deliver_runner_controls(runner.id, t0 + kRedeliverControlMs);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().id, control.id);
  EXPECT_EQ(again->front().delivered_at, t0 + kRedeliverControlMs);
  // The next repeat counts from the last delivery.
  EXPECT_TRUE(
      store_->deliver_runner_controls(runner.id, t0 + 2 * kRedeliverControlMs - 1)->empty());
  ASSERT_TRUE(store_
                  ->finish_runner_control(runner.id, control.id, true, "restarted",
                                          t0 + 2 * kRedeliverControlMs - 1)
                  .ok());
  EXPECT_TRUE(store_->deliver_runner_controls(runner.id, t0 + 10 * kRedeliverControlMs)->empty());
  auto listed = store_->list_runner_controls("t1", runner.id, 10);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().state, "succeeded");
}

TEST_P(StoreTest, JobCountsFollowEveryStateChange) {
  auto runner = register_runner("r1", "t1", 10);
  auto submit_shaped = [&](std::vector<std::string> labels, std::string group) {
    Job j;
    j.id = new_id("job");
    j.tenant = "t1";
    j.owner_token_id = "user";
    j.spec.command = {"true"};
    j.spec.labels = std::move(labels);
    j.spec.group = std::move(group);
    j.spec.max_attempts = 3;
    j.created_at = clock_.now_ms();
    return store_->create_job(j, kNoJobCap)->job;
  };
  auto check = [&](const std::string& step) {
    SCOPED_TRACE(step);
    auto stats = store_->queue_stats("t1", clock_.now_ms());
    ASSERT_TRUE(stats.ok());
    int64_t unfinished = 0;
    for (auto state : {"queued", "leased", "running", "succeeded", "failed", "canceled"}) {
      int64_t truth = count_rows("jobs", std::string("tenant = 't1' AND state = '") + state + "'");
      EXPECT_EQ(stats->by_state[state], truth) << state;
      if (std::string(state) == "queued" || std::string(state) == "leased" ||
          std::string(state) == "running")
        unfinished += truth;
    }
    EXPECT_EQ(*store_->count_unfinished_jobs("t1"), unfinished);
    for (const auto& g : stats->by_group) {
      EXPECT_EQ(g.queued, count_rows("jobs", "tenant = 't1' AND state = 'queued' AND grp = '" +
                                                 g.group + "'"));
    }
    for (const auto& l : stats->by_labels) {
      EXPECT_EQ(l.queued, count_rows("jobs", "tenant = 't1' AND state = 'queued' AND labels = '" +
                                                 json(l.labels).dump() + "'"));
    }
  };
  check("empty");
  for (int i = 0; i < 3; ++i) submit_shaped({}, "");  // the runner's (it has no labels)
  submit_shaped({"linux"}, "");
  submit_shaped({}, "team-a");
  auto canceled_queued = submit_shaped({"gpu"}, "");
  check("submitted");
  ASSERT_TRUE(store_->cancel_job("t1", canceled_queued.id, clock_.now_ms()).ok());
  check("a queued job canceled");
  auto claimed = claim(runner, 3);
  ASSERT_EQ(claimed.size(), 3u);
  check("claimed");
  ASSERT_TRUE(store_->start_attempt(runner.id, claimed[0].job_id, 1, clock_.now_ms()).ok());
  ASSERT_TRUE(store_->start_attempt(runner.id, claimed[1].job_id, 1, clock_.now_ms()).ok());
  check("started");
  FinishReport ok;
  ASSERT_TRUE(store_->finish_attempt(runner.id, claimed[0].job_id, 1, ok, clock_.now_ms()).ok());
  FinishReport transient;
  transient.state = AttemptState::kFailed;
  transient.exit_code = 1;
  transient.reason = "transient";
  ASSERT_TRUE(
      store_->finish_attempt(runner.id, claimed[1].job_id, 1, transient, clock_.now_ms()).ok());
  check("one finished, one failed and queued again for its retry");
  clock_.advance_ms(kTestLease + 1);
  ASSERT_TRUE(store_->expire_leases(clock_.now_ms()).ok());
  check("a lease expired");
  ASSERT_TRUE(store_->fold_job_counts().ok());
  check("folded");
  EXPECT_EQ(count_rows("job_count_changes"), 0);
  ASSERT_TRUE(store_->fold_job_counts().ok());
  check("folded twice");
}

TEST_P(SqliteStoreTest, ConcurrentWritesShareCommits) {
  constexpr int kThreads = 16, kPerThread = 20;
  uint64_t before = sqlite().commits();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) submit();
    });
  }
  for (auto& t : threads) t.join();
  auto stats = store_->queue_stats("t1", clock_.now_ms());
  EXPECT_EQ(stats->by_state["queued"], kThreads * kPerThread);
  // Group commit: fewer commits than transactions once writers overlap.
  EXPECT_LT(sqlite().commits() - before, static_cast<uint64_t>(kThreads * kPerThread));
}

// Reads have connections of their own and never go through the writer, however many run at
// once: with the writer held up by another connection's write lock, more concurrent reads than
// the store has read connections all answer. (A read that found every read connection taken
// used to queue in the writer's next batch and wait out the lock.)
TEST_P(SqliteStoreTest, ReadsNeverWaitOnTheWriterWhenEveryReadConnectionIsTaken) {
  auto shown = submit();
  sqlite::Db blocker((dir_ / "corral.db").string());
  blocker.exec("BEGIN IMMEDIATE");
  constexpr int kThreads = 16, kPerThread = 100;  // four read connections
  std::atomic<int> failed{0};
  std::string failure;
  std::mutex failure_mu;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto got = store_->get_job("t1", shown.id);
        if (!got.ok()) {
          ++failed;
          std::lock_guard lock(failure_mu);
          failure = got.error().message;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  blocker.exec("COMMIT");
  EXPECT_EQ(failed.load(), 0) << failure;
  // The writer's busy timeout is 5 s: a read that went through it would have waited that long.
  EXPECT_LT(seconds, 4.0);
}

// ---- dispatch with the submit (server/dispatch.h)

// A submit that finds a runner parked: the job is stored and leased to that runner in one
// store call, exactly as the runner's own claim right after it would have.
TEST_P(StoreTest, ASubmitWithAParkedRunnerLeasesTheNewJobInTheSameCall) {
  auto runner = register_runner("r1");
  Job fresh = submit_spec();
  auto rule = normal_rule();
  auto both = store_->create_job_and_claim(fresh, kNoJobCap, clock_.now_ms(),
                                           Store::Dispatch{runner.id, 1, kTestLease, rule});
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_TRUE(both->first.created);
  ASSERT_EQ(both->second.size(), 1u);
  EXPECT_EQ(both->second[0].job_id, fresh.id);
  EXPECT_EQ(both->second[0].attempt, 1);
  EXPECT_EQ(both->second[0].spec.command, fresh.spec.command);
  EXPECT_EQ(job(fresh.id).state, JobState::kLeased);
  EXPECT_EQ(store_->get_runner(runner.id)->status, RunnerStatus::kBusy);
  EXPECT_TRUE(store_->start_attempt(runner.id, fresh.id, 1, clock_.now_ms()).ok());
}

// The claim is claim()'s: an older job first, and nothing past the runner's slots.
TEST_P(StoreTest, ASubmitsClaimTakesTheOlderJobFirstAndRespectsTheRunnersSlots) {
  auto runner = register_runner("r1");
  auto older = submit();
  Job fresh = submit_spec();
  auto rule = normal_rule();
  auto both = store_->create_job_and_claim(fresh, kNoJobCap, clock_.now_ms(),
                                           Store::Dispatch{runner.id, 1, kTestLease, rule});
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->second.size(), 1u);
  EXPECT_EQ(both->second[0].job_id, older.id);
  EXPECT_EQ(job(fresh.id).state, JobState::kQueued);
  // The runner is full now: a second submit stores its job and leases nothing.
  Job third = submit_spec();
  both = store_->create_job_and_claim(third, kNoJobCap, clock_.now_ms(),
                                      Store::Dispatch{runner.id, 1, kTestLease, rule});
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->second.empty());
  EXPECT_EQ(job(third.id).state, JobState::kQueued);
}

// A submit refused past the tenant's cap stores nothing and leases nothing.
TEST_P(StoreTest, ASubmitPastTheCapLeasesNothing) {
  auto runner = register_runner("r1");
  auto older = submit();
  auto rule = normal_rule();
  auto both = store_->create_job_and_claim(submit_spec(), 1, clock_.now_ms(),
                                           Store::Dispatch{runner.id, 1, kTestLease, rule});
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(job(older.id).state, JobState::kQueued);
  EXPECT_TRUE(store_->get_runner(runner.id)->running.empty());
}

// Claims the runner never received go back to the queue as if never made: the same place,
// the attempt number and the retry budget unspent; started or other runners' ones stay.
TEST_P(StoreTest, ReturnedClaimsGoBackToTheQueueAsIfNeverMade) {
  auto a = register_runner("a", "t1", 3);
  auto b = register_runner("b", "t1", 3);
  auto first = submit("t1", 1);
  auto second = submit("t1", 1);
  auto third = submit("t1", 1);
  ASSERT_EQ(claim(a, 2).size(), 2u);
  ASSERT_EQ(claim(b, 1).size(), 1u);
  ASSERT_TRUE(store_->start_attempt(a.id, second.id, 1, clock_.now_ms()).ok());
  clock_.advance_ms(5);
  auto back = store_->return_claims(
      a.id, {{first.id, 1}, {second.id, 1}, {third.id, 1}, {first.id, 7}}, clock_.now_ms());
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 1u);  // the started one and b's stay
  EXPECT_EQ((*back)[0].id, first.id);
  EXPECT_EQ((*back)[0].state, JobState::kQueued);
  auto returned = job(first.id);
  EXPECT_EQ(returned.state, JobState::kQueued);
  EXPECT_EQ(returned.attempt, 0);
  EXPECT_TRUE(returned.attempts.empty());
  EXPECT_EQ(job(second.id).state, JobState::kRunning);
  EXPECT_EQ(job(third.id).state, JobState::kLeased);
  EXPECT_EQ(store_->get_runner(a.id)->running.size(), 1u);
  ASSERT_TRUE(store_->fold_job_counts().ok());
  auto stats = store_->queue_stats("t1", clock_.now_ms());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->by_state["queued"], 1);
  // Returning again finds nothing to undo.
  EXPECT_TRUE(store_->return_claims(a.id, {{first.id, 1}}, clock_.now_ms())->empty());
  // It is claimed again as attempt 1, and one attempt (max_attempts 1) is still allowed.
  auto again = claim(b, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].job_id, first.id);
  EXPECT_EQ(again[0].attempt, 1);
  EXPECT_TRUE(store_->start_attempt(b.id, first.id, 1, clock_.now_ms()).ok());
  // Runner a's attempt 1 of it is gone: its calls are refused.
  EXPECT_EQ(store_->start_attempt(a.id, first.id, 1, clock_.now_ms()).error().code,
            ErrorCode::kConflict);
}

TEST_P(SqliteStoreTest, ASubmitAndTheLeaseItHandsOnAreOneCommit) {
  auto runner = register_runner("r1");
  auto rule = normal_rule();
  uint64_t before = sqlite().commits();
  auto both = store_->create_job_and_claim(submit_spec(), kNoJobCap, clock_.now_ms(),
                                           Store::Dispatch{runner.id, 1, kTestLease, rule});
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->second.size(), 1u);
  EXPECT_EQ(sqlite().commits() - before, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::kStoreBackends, testing::backend_name);
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteStoreTest, ::testing::Values(std::string("sqlite")),
                         testing::backend_name);

}  // namespace
}  // namespace corral

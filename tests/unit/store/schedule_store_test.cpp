// Scheduled jobs against the real stores (SQLite and PostgreSQL, store_backends.h) with an
// injected clock: one job per tick, none before it, one after a downtime, cooldown skips, a
// DST day, no duplicates, tenants.
#include <gtest/gtest.h>

#include <filesystem>

#include "api/schedule.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/test_values.h"
#include "common/timezone.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store_backends.h"

namespace corral {
namespace {

class ScheduleStoreTest : public testing::StoreBackendTest {
 protected:
  Schedule create(const std::string& name, const std::string& cron, const std::string& tz = "UTC",
                  int64_t cooldown_s = 0, const std::string& tenant = "t1") {
    auto spec =
        parse_schedule_spec({{"name", name},
                             {"cron", cron},
                             {"timezone", tz},
                             {"cooldown_s", cooldown_s},
                             {"job", {{"command", {"echo", "tick"}}, {"labels", {"linux"}}}}});
    EXPECT_TRUE(spec.ok()) << spec.error().message;
    auto made = store_->create_schedule(
        new_schedule(tenant, "owner-" + tenant, spec.value(), clock_.now_ms()));
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.value();
  }

  // One sweep at the clock's time, as the server's sweep loop runs it.
  std::vector<Job> sweep() {
    auto made = store_->run_due_schedules(
        clock_.now_ms(), [](const Schedule& s, TimeMs now) { return decide_schedule(s, now); });
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.ok() ? made.value() : std::vector<Job>{};
  }

  Schedule get(const std::string& id_or_name, const std::string& tenant = "t1") {
    auto s = store_->get_schedule(tenant, id_or_name);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.value();
  }

  size_t jobs_in(const std::string& tenant) {
    auto page = store_->list_jobs(tenant, JobQuery{});
    EXPECT_TRUE(page.ok());
    return page->jobs.size();
  }

  ManualClock clock_{utc(2026, 11, 22, 10, 0) + 30'000};  // 10:00:30 UTC
};

TEST_P(ScheduleStoreTest, NoJobBeforeTheTick) {
  auto s = create("hourly", "0 * * * *");
  EXPECT_EQ(s.next_run_at, utc(2026, 11, 22, 11, 0));
  clock_.set_ms(utc(2026, 11, 22, 11, 0) - 1);
  EXPECT_TRUE(sweep().empty());
  EXPECT_EQ(jobs_in("t1"), 0u);
}

TEST_P(ScheduleStoreTest, TickMakesExactlyOneJobOwnedByTheSchedulesOwner) {
  auto s = create("hourly", "0 * * * *");
  clock_.set_ms(utc(2026, 11, 22, 11, 0) + 400);
  auto made = sweep();
  ASSERT_EQ(made.size(), 1u);
  const Job& job = made[0];
  EXPECT_EQ(job.tenant, "t1");
  EXPECT_EQ(job.owner_token_id, "owner-t1");
  EXPECT_EQ(job.spec.name, "hourly");  // a job without a name is named after its schedule
  EXPECT_EQ(job.spec.command, (std::vector<std::string>{"echo", "tick"}));
  EXPECT_EQ(job.spec.labels, (std::vector<std::string>{"linux"}));
  EXPECT_EQ(job.idempotency_key, schedule_job_key(s.id, utc(2026, 11, 22, 11, 0)));
  auto stored = store_->get_job("t1", job.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, JobState::kQueued);

  auto after = get("hourly");
  EXPECT_EQ(after.last_tick_at, utc(2026, 11, 22, 11, 0));
  EXPECT_EQ(after.last_run_at, clock_.now_ms());
  EXPECT_EQ(after.last_job_id, job.id);
  EXPECT_EQ(after.next_run_at, utc(2026, 11, 22, 12, 0));
  EXPECT_EQ(jobs_in("t1"), 1u);
}

TEST_P(ScheduleStoreTest, SweepingTwiceAtTheSameTimeMakesNoDuplicate) {
  create("hourly", "0 * * * *");
  clock_.set_ms(utc(2026, 11, 22, 11, 0));
  EXPECT_EQ(sweep().size(), 1u);
  EXPECT_TRUE(sweep().empty());
  clock_.advance_ms(30 * kMinute);
  EXPECT_TRUE(sweep().empty());
  EXPECT_EQ(jobs_in("t1"), 1u);
}

TEST_P(ScheduleStoreTest, ATickWhoseJobAnotherServerMadeMakesNoSecondJob) {
  // Two servers that read the same schedule row: the loser of the race finds the tick's
  // job by its idempotency key and records it instead of making another.
  auto s = create("hourly", "0 * * * *");
  TimeMs tick = utc(2026, 11, 22, 11, 0);
  Job theirs;
  theirs.id = new_id("job");
  theirs.tenant = "t1";
  theirs.owner_token_id = "owner-t1";
  theirs.spec = s.spec.job;
  theirs.created_at = tick;
  theirs.idempotency_key = schedule_job_key(s.id, tick);
  ASSERT_TRUE(store_->create_job(theirs, kNoJobCap).ok());
  clock_.set_ms(tick + 1000);
  EXPECT_TRUE(sweep().empty());
  EXPECT_EQ(jobs_in("t1"), 1u);
  auto after = get(s.id);
  EXPECT_EQ(after.last_job_id, theirs.id);
  EXPECT_EQ(after.last_tick_at, tick);
  EXPECT_EQ(after.next_run_at, utc(2026, 11, 22, 12, 0));
}

TEST_P(ScheduleStoreTest, DowntimeAcrossThreeTicksRunsOnceForTheLatest) {
  auto s = create("hourly", "0 * * * *");
  // Down from 10:00:30 until 13:20: the 11:00, 12:00 and 13:00 ticks were missed.
  clock_.set_ms(utc(2026, 11, 22, 13, 20));
  auto made = sweep();
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].idempotency_key, schedule_job_key(s.id, utc(2026, 11, 22, 13, 0)));
  EXPECT_TRUE(sweep().empty());
  EXPECT_EQ(jobs_in("t1"), 1u);
  EXPECT_EQ(get("hourly").next_run_at, utc(2026, 11, 22, 14, 0));
}

TEST_P(ScheduleStoreTest, TickWithinCooldownIsSkippedAndNextRunAdvances) {
  create("often", "*/10 * * * *", "UTC", 25 * 60);
  clock_.set_ms(utc(2026, 11, 22, 10, 10));
  ASSERT_EQ(sweep().size(), 1u);
  auto ran = get("often");
  clock_.set_ms(utc(2026, 11, 22, 10, 20));  // 10 min after the run: within 25 min
  EXPECT_TRUE(sweep().empty());
  auto skipped = get("often");
  EXPECT_EQ(skipped.last_tick_at, utc(2026, 11, 22, 10, 20));
  EXPECT_EQ(skipped.last_run_at, ran.last_run_at);
  EXPECT_EQ(skipped.last_job_id, ran.last_job_id);
  EXPECT_EQ(skipped.next_run_at, utc(2026, 11, 22, 10, 30));
  clock_.set_ms(utc(2026, 11, 22, 10, 30));  // 20 min: still within
  EXPECT_TRUE(sweep().empty());
  clock_.set_ms(utc(2026, 11, 22, 10, 40));  // 30 min: runs
  EXPECT_EQ(sweep().size(), 1u);
  EXPECT_EQ(jobs_in("t1"), 2u);
}

TEST_P(ScheduleStoreTest, SpringForwardDayInBerlinRunsOnceAtThreeLocal) {
  clock_.set_ms(utc(2026, 3, 28, 12, 0));
  create("nightly", "0 2 * * *", "Europe/Berlin");
  // 2026-03-29: 02:00 CET does not happen; the clocks jump to 03:00 CEST = 01:00 UTC.
  EXPECT_EQ(get("nightly").next_run_at, utc(2026, 3, 29, 1, 0));
  clock_.set_ms(utc(2026, 3, 29, 0, 59));
  EXPECT_TRUE(sweep().empty());
  std::vector<Job> made;
  // Sweep every minute through the day, as the server would.
  for (TimeMs t = utc(2026, 3, 29, 1, 0); t < utc(2026, 3, 30, 0, 0); t += kMinute) {
    clock_.set_ms(t);
    for (auto& j : sweep()) made.push_back(j);
  }
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].created_at, utc(2026, 3, 29, 1, 0));
  // The next night is summer time: 02:00 CEST = 00:00 UTC.
  EXPECT_EQ(get("nightly").next_run_at, utc(2026, 3, 30, 0, 0));
}

TEST_P(ScheduleStoreTest, TenantsSeeOnlyTheirOwnSchedulesAndJobs) {
  auto mine = create("nightly", "0 2 * * *", "UTC", 0, "t1");
  auto theirs = create("nightly", "0 2 * * *", "UTC", 0, "t2");  // same name, other tenant: fine
  EXPECT_NE(mine.id, theirs.id);
  EXPECT_EQ(store_->get_schedule("t2", mine.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->delete_schedule("t2", mine.id).error().code, ErrorCode::kNotFound);
  auto listed = store_->list_schedules("t1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, mine.id);
  EXPECT_EQ(get("nightly", "t2").id, theirs.id);  // by name, in the caller's tenant
  clock_.set_ms(utc(2026, 11, 23, 2, 0));
  auto made = sweep();
  ASSERT_EQ(made.size(), 2u);
  EXPECT_EQ(jobs_in("t1"), 1u);
  EXPECT_EQ(jobs_in("t2"), 1u);
}

TEST_P(ScheduleStoreTest, DuplicateNameInATenantIsAConflict) {
  create("nightly", "0 2 * * *");
  auto spec = parse_schedule_spec(
      {{"name", "nightly"}, {"cron", "@hourly"}, {"job", {{"script", "true"}}}});
  ASSERT_TRUE(spec.ok());
  auto again = store_->create_schedule(new_schedule("t1", "owner", *spec, clock_.now_ms()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("nightly"), std::string::npos);
}

TEST_P(ScheduleStoreTest, DeletedScheduleMakesNoMoreJobs) {
  create("hourly", "0 * * * *");
  auto gone = store_->delete_schedule("t1", "hourly");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(store_->get_schedule("t1", "hourly").error().code, ErrorCode::kNotFound);
  clock_.set_ms(utc(2026, 11, 22, 11, 0));
  EXPECT_TRUE(sweep().empty());
}

TEST_P(ScheduleStoreTest, PausedScheduleSkipsItsTicksAndResumesFromNow) {
  create("hourly", "0 * * * *");
  ASSERT_TRUE(store_->set_schedule_paused("t1", "hourly", true, clock_.now_ms()).ok());
  clock_.set_ms(utc(2026, 11, 22, 12, 30));
  EXPECT_TRUE(sweep().empty());
  ASSERT_TRUE(store_->set_schedule_paused("t1", "hourly", false, clock_.now_ms()).ok());
  EXPECT_TRUE(sweep().empty());  // the 11:00 and 12:00 ticks came while paused
  EXPECT_EQ(get("hourly").next_run_at, utc(2026, 11, 22, 13, 0));
  clock_.set_ms(utc(2026, 11, 22, 13, 0));
  EXPECT_EQ(sweep().size(), 1u);
}

TEST(ScheduleSpec, ErrorsNameTheField) {
  auto error_of = [](const json& body) {
    auto spec = parse_schedule_spec(body);
    EXPECT_FALSE(spec.ok());
    return spec.ok() ? std::string() : spec.error().message;
  };
  json job = {{"command", {"true"}}};
  EXPECT_NE(error_of({{"cron", "@daily"}, {"job", job}}).find("field 'name'"), std::string::npos);
  EXPECT_NE(error_of({{"name", std::string(201, 'x')}, {"cron", "@daily"}, {"job", job}})
                .find("field 'name'"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"cron", "0 25 * * *"}, {"job", job}})
                .find("field 'cron': cron field 2 (hour)"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"name", "n"}, {"cron", "@daily"}, {"timezone", "Europe/Berln"}, {"job", job}})
          .find("field 'timezone': unknown time zone 'Europe/Berln'"),
      std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"cron", "@daily"}, {"cooldown_s", -1}, {"job", job}})
                .find("field 'cooldown_s'"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"cron", "@daily"}}).find("field 'job'"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"cron", "@daily"}, {"job", {{"comand", {"true"}}}}})
                .find("field 'job.comand'"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"cron", "@daily"}, {"job", job}, {"every", 5}})
                .find("field 'every'"),
            std::string::npos);
  auto ok = parse_schedule_spec({{"name", "n"}, {"cron", "@weekly"}, {"job", job}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->cron, "0 0 * * 0");
  EXPECT_EQ(ok->timezone, "UTC");
  EXPECT_EQ(ok->cooldown_s, 0);
}

TEST(ScheduleSpec, WorkflowsOfARepositoryBecomeADiscoveryJobAtTheRef) {
  auto spec =
      parse_schedule_spec({{"name", "nightly"},
                           {"cron", "0 3 * * *"},
                           {"workflows", {{"url", "https://example.com/a.git"}, {"ref", "main"}}}});
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  ASSERT_TRUE(spec->job.workflow.has_value());
  EXPECT_EQ((*spec->job.workflow)["discover"]["event"], "schedule");
  ASSERT_TRUE(spec->job.repo.has_value());
  EXPECT_EQ(spec->job.repo->url, "https://example.com/a.git");
  EXPECT_EQ(spec->job.repo->ref, "main");
  auto refused = [](const json& body) {
    auto r = parse_schedule_spec(body);
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(refused({{"name", "n"}, {"cron", "@daily"}, {"workflows", {{"ref", "main"}}}})
                .find("field 'workflows'"),
            std::string::npos);
  EXPECT_NE(refused({{"name", "n"},
                     {"cron", "@daily"},
                     {"workflows", {{"url", "u"}}},
                     {"job", {{"script", "x"}}}})
                .find("not both"),
            std::string::npos);
  EXPECT_NE(refused({{"name", "n"},
                     {"cron", "@daily"},
                     {"job", {{"workflow", {{"discover", json::object()}}}}}})
                .find("field 'job.workflow'"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, ScheduleStoreTest, testing::kStoreBackends,
                         testing::backend_name);

TEST(ScheduleMigration, SchedulesTableComesWithVersionFourAfterTwo) {
  // A database made before schedules (versions 1 and 2 only) gains the table on open.
  auto dir = std::filesystem::temp_directory_path() / ("corral-mig-" + random_hex(6));
  std::filesystem::create_directories(dir);
  auto path = (dir / "corral.db").string();
  {
    sqlite::Db db(path);
    ASSERT_GE(sqlite::migrate(db), 4);
    // Back to the schema before schedules (undoing the migrations after them too): 4 comes
    // after whatever came before it.
    db.exec("DROP TRIGGER job_counts_insert");
    db.exec("DROP TRIGGER job_counts_update");
    db.exec("DROP TRIGGER job_counts_delete");
    db.exec("DROP TABLE job_counts");
    db.exec("DROP TABLE job_count_changes");
    db.exec("DROP INDEX jobs_waiting");
    db.exec("DROP INDEX jobs_waiting_by_shape");
    db.exec("DROP INDEX jobs_delayed");
    db.exec("DROP INDEX jobs_in_flight");
    db.exec("CREATE INDEX jobs_queue ON jobs (tenant, state, priority DESC, seq)");
    db.exec("CREATE INDEX jobs_runnable ON jobs (state, not_before)");
    db.exec(
        "CREATE INDEX jobs_owner_queue ON jobs (tenant, state, owner_token_id, priority DESC, "
        "seq)");
    db.exec("DROP INDEX jobs_queued_since");
    db.exec("DROP TABLE workflow_runs");
    db.exec("DROP TABLE runner_usage");
    db.exec("ALTER TABLE tokens DROP COLUMN last_used_at");
    db.exec("DROP TABLE runner_controls");
    db.exec("ALTER TABLE runners DROP COLUMN description");
    db.exec("DROP TABLE tenant_settings");
    db.exec("DROP TABLE attempt_events");
    db.exec("DROP TABLE job_secrets");
    db.exec("DROP TABLE schedule_secrets");
    db.exec("DROP TRIGGER job_secrets_end");
    db.exec("DROP TRIGGER schedule_secrets_gone");
    db.exec("DROP INDEX tokens_by_creator");
    db.exec("DROP INDEX runners_by_token");
    db.exec("ALTER TABLE tokens DROP COLUMN runner_policy");
    db.exec("ALTER TABLE runners DROP COLUMN admin_drain");
    db.exec("DROP TABLE repos");
    db.exec("ALTER TABLE jobs DROP COLUMN repo_name");
    db.exec("ALTER TABLE jobs DROP COLUMN group_source");
    db.exec("ALTER TABLE jobs DROP COLUMN steward_fallback");
    db.exec("ALTER TABLE tokens DROP COLUMN steward_fallback");
    db.exec("DROP TABLE schedules");
    db.exec("DELETE FROM schema_migrations WHERE version >= 4");
  }
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous_full = false;
  auto store = SqliteStore::open(options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->list_schedules("t1").ok());
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace corral

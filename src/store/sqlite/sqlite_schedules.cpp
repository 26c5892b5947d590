// SqliteStore: scheduled jobs (the schedules table, migration 4) and their sweep.
#include "api/repo.h"
#include "common/crypto.h"
#include "store/shared_sql.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;
using sqlite::Stmt;

namespace {

Schedule schedule_from_row(const Stmt& st) {
  Schedule s;
  s.id = st.text(0);
  s.tenant = st.text(1);
  s.owner_token_id = st.text(2);
  s.spec.name = st.text(3);
  s.spec.cron = st.text(4);
  s.spec.timezone = st.text(5);
  auto job = parse_job_spec(json::parse(st.text(6), nullptr, false));
  if (job.ok()) s.spec.job = std::move(job.value());
  s.spec.cooldown_s = st.int64(7);
  s.created_at = st.int64(8);
  s.updated_at = st.int64(9);
  s.last_tick_at = st.int64(10);
  if (!st.is_null(11)) s.last_run_at = st.int64(11);
  s.last_job_id = st.text(12);
  if (!st.is_null(13)) s.next_run_at = st.int64(13);
  s.paused = st.integer(14) != 0;
  s.paused_reason = st.text(15);
  return s;
}

std::optional<Schedule> load_schedule(Db& db, const std::string& tenant,
                                      const std::string& id_or_name) {
  auto st = db.prepare(
      std::string("SELECT ") + kScheduleColumns +
      " FROM schedules WHERE tenant = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1");
  st.bind_all(tenant, id_or_name);
  if (!st.step()) return std::nullopt;
  return schedule_from_row(st);
}

// Inserts the job a schedule makes for one tick, with the columns create_job writes. The
// idempotency key (schedule_job_key) makes a second insert for the same tick a no-op: false.
bool insert_tick_job(Db& db, const Job& job) {
  return db.prepare(
               "INSERT OR IGNORE INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, "
               "priority,"
               " state, max_attempts, not_before, created_at, updated_at, idempotency_key, "
               "repo_name,"
               " group_source, steward_fallback)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)")
             .bind_all(job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                       json(job.spec.labels).dump(), job.spec.group, job.spec.type,
                       job.spec.priority, job.spec.max_attempts, job.not_before, job.created_at,
                       job.created_at, job.idempotency_key, job.repo_name, job.group_source,
                       job.spec.steward_fallback)
             .exec() > 0;
}

}  // namespace

Result<Schedule> SqliteStore::create_schedule(const Schedule& schedule) {
  return write<Schedule>([&](Db& db) -> Result<Schedule> {
    {
      auto st = db.prepare("SELECT id FROM schedules WHERE tenant = ? AND name = ?");
      st.bind_all(schedule.tenant, schedule.spec.name);
      if (st.step()) {
        return make_error(
            ErrorCode::kConflict,
            "a schedule named '" + schedule.spec.name + "' already exists (" + st.text(0) +
                "); pick another name, or delete it first with `corral schedule delete " +
                schedule.spec.name + "`");
      }
    }
    db.prepare(std::string("INSERT INTO schedules (") + kScheduleColumns +
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind_all(schedule.id, schedule.tenant, schedule.owner_token_id, schedule.spec.name,
                  schedule.spec.cron, schedule.spec.timezone, to_json(schedule.spec.job).dump(),
                  schedule.spec.cooldown_s, schedule.created_at, schedule.updated_at,
                  schedule.last_tick_at, schedule.last_run_at, schedule.last_job_id,
                  schedule.next_run_at, schedule.paused, schedule.paused_reason)
        .exec();
    for (const auto& [name, value] : schedule.spec.job.secrets) {
      db.prepare("INSERT INTO schedule_secrets (schedule_id, name, value) VALUES (?, ?, ?)")
          .bind_all(schedule.id, name, value)
          .exec();
    }
    return *load_schedule(db, schedule.tenant, schedule.id);
  });
}

Result<std::vector<Schedule>> SqliteStore::list_schedules(const std::string& tenant) {
  return read<std::vector<Schedule>>([&](Db& db) -> Result<std::vector<Schedule>> {
    auto st = db.prepare(std::string("SELECT ") + kScheduleColumns +
                         " FROM schedules WHERE tenant = ? ORDER BY name");
    st.bind_all(tenant);
    std::vector<Schedule> out;
    while (st.step()) out.push_back(schedule_from_row(st));
    return out;
  });
}

Result<Schedule> SqliteStore::get_schedule(const std::string& tenant,
                                           const std::string& id_or_name) {
  return read<Schedule>([&](Db& db) -> Result<Schedule> {
    auto s = load_schedule(db, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    return *s;
  });
}

Result<Schedule> SqliteStore::delete_schedule(const std::string& tenant,
                                              const std::string& id_or_name) {
  return write<Schedule>([&](Db& db) -> Result<Schedule> {
    auto s = load_schedule(db, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    db.prepare("DELETE FROM schedules WHERE id = ?").bind_all(s->id).exec();
    return *s;
  });
}

Result<Schedule> SqliteStore::set_schedule_paused(const std::string& tenant,
                                                  const std::string& id_or_name, bool paused,
                                                  TimeMs now) {
  return write<Schedule>([&](Db& db) -> Result<Schedule> {
    auto s = load_schedule(db, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    if (s->paused == paused) return *s;
    // Resuming starts afresh from now: ticks during the pause were not missed, they were
    // not wanted. The next sweep recomputes next_run_at, so it only has to be due.
    db.prepare(
          "UPDATE schedules SET paused = ?, paused_reason = '', updated_at = ?,"
          " last_tick_at = CASE WHEN ? THEN last_tick_at ELSE ? END,"
          " next_run_at = CASE WHEN ? THEN next_run_at ELSE ? END WHERE id = ?")
        .bind_all(paused, now, paused, now, paused, now, s->id)
        .exec();
    return *load_schedule(db, tenant, s->id);
  });
}

Result<std::vector<Job>> SqliteStore::run_due_schedules(TimeMs now, const ScheduleDecider& decide) {
  return write<std::vector<Job>>([&](Db& db) -> Result<std::vector<Job>> {
    std::vector<Schedule> due;
    {
      auto st = db.prepare(
          std::string("SELECT ") + kScheduleColumns +
          " FROM schedules WHERE paused = 0 AND next_run_at IS NOT NULL AND next_run_at <= ?"
          " ORDER BY next_run_at");
      st.bind_all(now);
      while (st.step()) due.push_back(schedule_from_row(st));
    }
    std::vector<Job> made;
    for (const auto& s : due) {
      ScheduleDecision d = decide(s, now);
      TimeMs last_tick = s.last_tick_at;
      std::optional<TimeMs> last_run = s.last_run_at;
      std::string last_job = s.last_job_id;
      if (d.action == TickAction::kRun) {
        Job job;
        job.id = new_id("job");
        job.tenant = s.tenant;
        job.owner_token_id = s.owner_token_id;
        job.spec = s.spec.job;
        job.created_at = now;
        job.not_before = now;
        job.idempotency_key = schedule_job_key(s.id, d.tick);
        // The repository mapping applies as at submit (api/repo.h).
        apply_repo_mapping(job, nullptr);
        std::optional<RepoMapping> repo;
        if (!job.repo_name.empty()) repo = sqlite::load_repo(db, job.tenant, job.repo_name);
        apply_repo_mapping(job, repo ? &*repo : nullptr);
        if (insert_tick_job(db, job)) {
          db.prepare(
                "INSERT INTO job_secrets (job_id, name, value)"
                " SELECT ?, name, value FROM schedule_secrets WHERE schedule_id = ?")
              .bind_all(job.id, s.id)
              .exec();
          job.state = JobState::kQueued;
          job.updated_at = now;
          job.seq = sqlite3_last_insert_rowid(db.raw());
          last_job = job.id;
          made.push_back(std::move(job));
        } else {
          // This tick's job exists already (another server made it): record that one.
          auto st = db.prepare("SELECT id FROM jobs WHERE tenant = ? AND idempotency_key = ?");
          st.bind_all(job.tenant, job.idempotency_key);
          if (st.step()) last_job = st.text(0);
        }
        last_tick = d.tick;
        last_run = now;
      } else if (d.action == TickAction::kSkipCooldown) {
        last_tick = d.tick;
      }
      db.prepare(
            "UPDATE schedules SET last_tick_at = ?, last_run_at = ?, last_job_id = ?, next_run_at "
            "= ?"
            " WHERE id = ?")
          .bind_all(last_tick, last_run, last_job, d.next_tick, s.id)
          .exec();
    }
    return made;
  });
}

}  // namespace corral

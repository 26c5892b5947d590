// PostgresStore: scheduled jobs (the schedules table, migration 4) and their sweep.
#include "common/crypto.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/shared_sql.h"

namespace corral {

using pg::Connection;

namespace {

Schedule schedule_from_row(const pg::Row& row) {
  Schedule s;
  s.id = row.text(0);
  s.tenant = row.text(1);
  s.owner_token_id = row.text(2);
  s.spec.name = row.text(3);
  s.spec.cron = row.text(4);
  s.spec.timezone = row.text(5);
  auto job = parse_job_spec(json::parse(row.text(6), nullptr, false));
  if (job.ok()) s.spec.job = std::move(job.value());
  s.spec.cooldown_s = row.int64(7);
  s.created_at = row.int64(8);
  s.updated_at = row.int64(9);
  s.last_tick_at = row.int64(10);
  s.last_run_at = row.opt_int64(11);
  s.last_job_id = row.text(12);
  s.next_run_at = row.opt_int64(13);
  s.paused = row.integer(14) != 0;
  s.paused_reason = row.text(15);
  return s;
}

std::optional<Schedule> load_schedule(Connection& c, const std::string& tenant,
                                      const std::string& id_or_name) {
  auto rows = c.query(std::string("SELECT ") + kScheduleColumns +
                          " FROM schedules WHERE tenant = $1 AND (id = $2 OR name = $2) ORDER BY "
                          "(id = $2) DESC LIMIT 1",
                      tenant, id_or_name);
  if (rows.empty()) return std::nullopt;
  return schedule_from_row(rows.front());
}

}  // namespace

Result<Schedule> PostgresStore::create_schedule(const Schedule& schedule) {
  return tx<Schedule>([&](Connection& c) -> Result<Schedule> {
    auto rows = c.query(
        std::string("INSERT INTO schedules (") + kScheduleColumns +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            " ON CONFLICT (tenant, name) DO NOTHING RETURNING id",
        schedule.id, schedule.tenant, schedule.owner_token_id, schedule.spec.name,
        schedule.spec.cron, schedule.spec.timezone, to_json(schedule.spec.job).dump(),
        schedule.spec.cooldown_s, schedule.created_at, schedule.updated_at, schedule.last_tick_at,
        schedule.last_run_at, schedule.last_job_id, schedule.next_run_at, schedule.paused,
        schedule.paused_reason);
    if (rows.empty()) {
      auto existing = c.query("SELECT id FROM schedules WHERE tenant = $1 AND name = $2",
                              schedule.tenant, schedule.spec.name);
      std::string id = existing.empty() ? std::string() : existing.front().text(0);
      return make_error(
          ErrorCode::kConflict,
          "a schedule named '" + schedule.spec.name + "' already exists (" + id +
              "); pick another name, or delete it first with `corral schedule delete " +
              schedule.spec.name + "`");
    }
    for (const auto& [name, value] : schedule.spec.job.secrets) {
      c.query("INSERT INTO schedule_secrets (schedule_id, name, value) VALUES ($1, $2, $3)",
              schedule.id, name, value);
    }
    return *load_schedule(c, schedule.tenant, schedule.id);
  });
}

Result<std::vector<Schedule>> PostgresStore::list_schedules(const std::string& tenant) {
  return tx<std::vector<Schedule>>([&](Connection& c) -> Result<std::vector<Schedule>> {
    auto rows = c.query(std::string("SELECT ") + kScheduleColumns +
                            " FROM schedules WHERE tenant = $1 ORDER BY name",
                        tenant);
    std::vector<Schedule> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(schedule_from_row(rows[i]));
    return out;
  });
}

Result<Schedule> PostgresStore::get_schedule(const std::string& tenant,
                                             const std::string& id_or_name) {
  return tx<Schedule>([&](Connection& c) -> Result<Schedule> {
    auto s = load_schedule(c, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    return *s;
  });
}

Result<Schedule> PostgresStore::delete_schedule(const std::string& tenant,
                                                const std::string& id_or_name) {
  return tx<Schedule>([&](Connection& c) -> Result<Schedule> {
    auto s = load_schedule(c, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    c.query("DELETE FROM schedules WHERE id = $1", s->id);
    return *s;
  });
}

Result<Schedule> PostgresStore::set_schedule_paused(const std::string& tenant,
                                                    const std::string& id_or_name, bool paused,
                                                    TimeMs now) {
  return tx<Schedule>([&](Connection& c) -> Result<Schedule> {
    auto s = load_schedule(c, tenant, id_or_name);
    if (!s) return no_schedule(id_or_name);
    if (s->paused == paused) return *s;
    if (paused) {
      c.query("UPDATE schedules SET paused = 1, updated_at = $1 WHERE id = $2", now, s->id);
    } else {
      // Resuming starts afresh from now: ticks during the pause were not missed, they were
      // not wanted. The next sweep recomputes next_run_at, so it only has to be due.
      c.query(
          "UPDATE schedules SET paused = 0, paused_reason = '', updated_at = $1, last_tick_at = $1,"
          " next_run_at = $1 WHERE id = $2",
          now, s->id);
    }
    return *load_schedule(c, tenant, s->id);
  });
}

Result<std::vector<Job>> PostgresStore::run_due_schedules(TimeMs now,
                                                          const ScheduleDecider& decide) {
  return tx<std::vector<Job>>([&](Connection& c) -> Result<std::vector<Job>> {
    // SKIP LOCKED: a schedule another server is ticking is theirs; when they commit, its
    // next_run_at has moved on. The tick job's idempotency key backs this up.
    std::vector<Schedule> due;
    {
      auto rows = c.query(
          std::string("SELECT ") + kScheduleColumns +
              " FROM schedules WHERE paused = 0 AND next_run_at IS NOT NULL AND next_run_at <= $1"
              " ORDER BY next_run_at, id FOR UPDATE SKIP LOCKED",
          now);
      for (int i = 0; i < rows.size(); ++i) due.push_back(schedule_from_row(rows[i]));
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
        if (!job.repo_name.empty()) repo = pg::load_repo(c, job.tenant, job.repo_name);
        apply_repo_mapping(job, repo ? &*repo : nullptr);
        auto inserted = c.query(
            "INSERT INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, priority,"
            " state, max_attempts, not_before, created_at, updated_at, idempotency_key, repo_name, "
            "group_source,"
            " steward_fallback)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $12, $13, $14, $15, "
            "$16)"
            " ON CONFLICT DO NOTHING RETURNING seq",
            job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
            json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
            job.spec.max_attempts, job.not_before, job.created_at, job.created_at,
            job.idempotency_key, job.repo_name, job.group_source, job.spec.steward_fallback);
        if (!inserted.empty()) {
          c.query(
              "INSERT INTO job_secrets (job_id, name, value)"
              " SELECT $1, name, value FROM schedule_secrets WHERE schedule_id = $2",
              job.id, s.id);
          job.state = JobState::kQueued;
          job.updated_at = now;
          job.seq = inserted.front().int64(0);
          last_job = job.id;
          made.push_back(std::move(job));
        } else {
          // This tick's job exists already (another server made it): record that one.
          auto rows = c.query("SELECT id FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
                              job.tenant, job.idempotency_key);
          if (!rows.empty()) last_job = rows.front().text(0);
        }
        last_tick = d.tick;
        last_run = now;
      } else if (d.action == TickAction::kSkipCooldown) {
        last_tick = d.tick;
      }
      c.query(
          "UPDATE schedules SET last_tick_at = $1, last_run_at = $2, last_job_id = $3, next_run_at "
          "= $4 WHERE id = $5",
          last_tick, last_run, last_job, d.next_tick, s.id);
    }
    return made;
  });
}

}  // namespace corral

// SqlStore's methods (sql_store.h) for jobs, their logs and statistics, schedules,
// repository mappings and tenant settings; included through sql_store_impl.h.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/crypto.h"
#include "store/sql_core.h"
#include "store/sql_store.h"

namespace corral {

// ---- jobs ---------------------------------------------------------------------

template <typename B, typename C>
Result<Job> SqlStore<B, C>::get_job(const std::string& tenant, const std::string& id) {
  // The job, then its attempts (two reads, no transaction around them in PostgreSQL).
  return self().template transact<Job>(StoreAccess::kRead, [&](C& c) -> Result<Job> {
    auto job = load_job(c, tenant, id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + id);
    return *job;
  });
}

template <typename B, typename C>
Result<Job> SqlStore<B, C>::cancel_job(const std::string& tenant, const std::string& id,
                                       TimeMs now) {
  return self().template transact<Job>(StoreAccess::kWrite, [&](C& c) -> Result<Job> {
    // Locked first: a claim, start or finish of this job on another server waits for us.
    if (c.query("SELECT 1 FROM jobs WHERE id = $1" + lock_rows<C>(), id).empty()) {
      return make_error(ErrorCode::kNotFound, "no job with id " + id);
    }
    auto job = load_job(c, tenant, id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + id);
    if (is_terminal(job->state)) {
      return make_error(ErrorCode::kConflict, "job " + id + " already ended (" +
                                                  std::string(to_string(job->state)) + ")");
    }
    if (job->state == JobState::kQueued || job->state == JobState::kLeased) {
      // Nothing has started: cancel at once. A runner holding the lease gets 409 on start.
      c.query(
          "UPDATE attempts SET state = 'canceled', reason = 'canceled', finished_at = $1"
          " WHERE job_id = $2 AND attempt = $3 AND state = 'leased'",
          now, id, job->attempt);
      c.query(
          "UPDATE jobs SET state = 'canceled', reason = 'canceled', cancel_requested = 1,"
          " finished_at = $1, updated_at = $1 WHERE id = $2",
          now, id);
      if (job->state == JobState::kLeased && !job->attempts.empty()) {
        refresh_runner_status(c, job->attempts.back().runner_id);
      }
    } else {
      c.query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2", now, id);
    }
    return *load_job(c, tenant, id);
  });
}

template <typename B, typename C>
Result<std::vector<Job>> SqlStore<B, C>::return_claims(const std::string& runner_id,
                                                       const std::vector<AttemptRef>& claims,
                                                       TimeMs now) {
  return self().template transact<std::vector<Job>>(
      StoreAccess::kWrite, [&](C& c) -> Result<std::vector<Job>> {
        std::vector<Job> queued;
        for (const auto& ref : claims) {
          // Locked first, as a claim, start, finish or cancel of the job locks it.
          if (c.query("SELECT 1 FROM jobs WHERE id = $1 AND state = 'leased' AND attempt = $2" +
                          lock_rows<C>(),
                      ref.job_id, ref.attempt)
                  .empty()) {
            continue;  // started, canceled or expired meanwhile: not ours to undo
          }
          auto gone = c.query(
              "DELETE FROM attempts WHERE job_id = $1 AND attempt = $2 AND runner_id = $3"
              " AND state = 'leased' RETURNING attempt",
              ref.job_id, ref.attempt, runner_id);
          if (gone.empty()) continue;
          c.query(
              "UPDATE jobs SET state = 'queued', attempt = attempt - 1, updated_at = $1"
              " WHERE id = $2",
              now, ref.job_id);
          if (auto job = load_job(c, "", ref.job_id)) queued.push_back(std::move(*job));
        }
        if (!queued.empty()) refresh_runner_status(c, runner_id);
        return queued;
      });
}

template <typename B, typename C>
Result<AgentEvents> SqlStore<B, C>::read_agent_events(const std::string& tenant,
                                                      const std::string& job_id, int attempt) {
  return self().template transact<AgentEvents>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<AgentEvents> {
        if (!load_job(c, tenant, job_id))
          return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
        auto rows = c.query(
            "SELECT attempt, data FROM attempt_events WHERE job_id = $1 AND ($2 = 0 OR attempt ="
            " $2) ORDER BY attempt DESC LIMIT 1",
            job_id, attempt);
        if (rows.empty()) return no_agent_events(job_id, attempt);
        return AgentEvents{rows.front().integer(0), rows.front().bytea(1)};
      });
}

template <typename B, typename C>
Result<LogAppend> SqlStore<B, C>::append_log(const std::string& runner_id,
                                             const std::string& job_id, int attempt, int64_t offset,
                                             std::string_view data, TimeMs now) {
  (void)now;
  return self().template transact<LogAppend>(StoreAccess::kWrite, [&](C& c) -> Result<LogAppend> {
    return append_log_in(c, runner_id, job_id, attempt, offset, data, self().options_.log_max_bytes,
                         [&](int64_t at, const std::string& bytes) -> Result<void> {
                           return self().write_log_bytes(c, job_id, attempt, at, bytes);
                         });
  });
}

template <typename B, typename C>
Result<LogChunk> SqlStore<B, C>::read_log(const std::string& tenant, const std::string& job_id,
                                          int attempt, int64_t offset, int64_t max_bytes) {
  return self().template transact<LogChunk>(StoreAccess::kSnapshot, [&](C& c) -> Result<LogChunk> {
    auto plan = plan_log_read(load_job(c, tenant, job_id), job_id, attempt, offset, max_bytes);
    if (!plan.ok()) return plan.error();
    LogChunk chunk = std::move(plan->chunk);
    if (plan->want > 0) {
      auto bytes = self().log_bytes(c, job_id, chunk.attempt, offset, plan->want);
      if (!bytes.ok()) return bytes.error();
      chunk.data = std::move(bytes.value());
    }
    return chunk;
  });
}

template <typename B, typename C>
Result<QueueStats> SqlStore<B, C>::queue_stats(const std::string& tenant, TimeMs now) {
  (void)now;
  return self().template transact<QueueStats>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<QueueStats> {
        QueueStats stats;
        for (auto s : {"queued", "leased", "running", "succeeded", "failed", "canceled"})
          stats.by_state[s] = 0;
        std::map<std::string, QueueStats::GroupCount> groups;
        std::map<std::string, int64_t> queued_by_labels;
        for (const auto& count : job_counts(c, tenant)) {
          stats.by_state[count.state] += count.n;
          if (count.state == "queued") {
            groups[count.group].queued += count.n;
            queued_by_labels[count.labels_json] += count.n;
          } else if (count.state == "leased" || count.state == "running") {
            groups[count.group].running += count.n;
          }
        }
        for (auto& [group, g] : groups) {
          g.group = group;
          if (g.queued > 0 || g.running > 0) stats.by_group.push_back(g);
        }
        for (const auto& [labels, n] : queued_by_labels) {
          if (n > 0)
            stats.by_labels.push_back(
                {json::parse(labels).template get<std::vector<std::string>>(), n});
        }
        std::stable_sort(stats.by_labels.begin(), stats.by_labels.end(),
                         [](const auto& a, const auto& b) { return a.queued > b.queued; });
        auto oldest = c.query(
            "SELECT MIN(created_at) FROM jobs WHERE tenant = $1 AND state = 'queued'", tenant);
        if (!oldest.empty() && !oldest.front().is_null(0))
          stats.oldest_queued_at = oldest.front().int64(0);
        return stats;
      });
}

template <typename B, typename C>
Result<QueuePosition> SqlStore<B, C>::queue_position(const std::string& tenant,
                                                     const std::string& job_id, TimeMs now) {
  return self().template transact<QueuePosition>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<QueuePosition> {
        auto found =
            c.query("SELECT seq, priority FROM jobs WHERE tenant = $1 AND id = $2", tenant, job_id);
        if (found.empty()) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
        int64_t seq = found.front().int64(0);
        int64_t priority = found.front().int64(1);
        // The jobs ahead, counted in the index of queued jobs (jobs_waiting), without reading
        // them; then those of them waiting out a retry backoff, which do not count: few, and
        // found through jobs_delayed.
        auto ahead = c.query(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state = 'queued' AND"
            " priority > $2), (SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state = 'queued'"
            " AND priority = $2 AND seq < $3)",
            tenant, priority, seq);
        QueuePosition pos;
        pos.higher_priority = ahead.front().int64(0);
        pos.older = ahead.front().int64(1);
        auto waiting = c.query(
            "SELECT tenant, priority, seq FROM jobs WHERE state = 'queued' AND not_before > $1",
            now);
        for (int i = 0; i < waiting.size(); ++i) {
          if (waiting[i].text(0) != tenant) continue;
          if (waiting[i].int64(1) > priority) --pos.higher_priority;
          if (waiting[i].int64(1) == priority && waiting[i].int64(2) < seq) --pos.older;
        }
        return pos;
      });
}

template <typename B, typename C>
Result<std::vector<Job>> SqlStore<B, C>::queued_jobs(const std::string& tenant, int limit) {
  return self().template transact<std::vector<Job>>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<std::vector<Job>> {
        return all_rows(c.query(std::string("SELECT ") + kJobColumns +
                                    " FROM jobs WHERE tenant = $1 AND state = 'queued' ORDER BY "
                                    "priority DESC, seq ASC LIMIT $2",
                                tenant, limit),
                        [](const auto& row) { return job_from_row(row); });
      });
}

template <typename B, typename C>
Result<std::vector<FinishedResult>> SqlStore<B, C>::agent_results(const std::string& tenant,
                                                                  TimeMs since) {
  using Results = std::vector<FinishedResult>;
  return self().template transact<Results>(StoreAccess::kRead, [&](C& c) -> Result<Results> {
    return all_rows(
        c.query("SELECT finished_at, result FROM jobs WHERE tenant = $1 AND finished_at >= $2"
                " AND result IS NOT NULL AND result LIKE '%\"agent\":%' ORDER BY finished_at",
                tenant, since),
        [](const auto& row) {
          return FinishedResult{row.int64(0), row.text(1)};
        });
  });
}

template <typename B, typename C>
Result<JobStats> SqlStore<B, C>::job_stats(const std::string& tenant, int hours, TimeMs now) {
  return self().template transact<JobStats>(StoreAccess::kSnapshot, [&](C& c) -> Result<JobStats> {
    constexpr TimeMs kHour = 3'600'000;
    TimeMs first_hour = (now / kHour - (hours - 1)) * kHour;
    auto rows = c.query(
        "SELECT state, created_at, started_at, finished_at FROM jobs"
        " WHERE tenant = $1 AND finished_at >= $2 AND state IN ('succeeded', 'failed', 'canceled')",
        tenant, first_hour);
    JobStats stats;
    for (int i = 0; i < hours; ++i) stats.hours.push_back({first_hour + i * kHour});
    std::vector<TimeMs> waits, runs;
    for (int i = 0; i < rows.size(); ++i) {
      std::string state = rows[i].text(0);
      TimeMs created = rows[i].int64(1), started = rows[i].int64(2), finished = rows[i].int64(3);
      auto bucket = static_cast<size_t>((finished - first_hour) / kHour);
      if (bucket >= stats.hours.size()) bucket = stats.hours.size() - 1;  // a clock step back
      auto& hour = stats.hours[bucket];
      if (state == "succeeded")
        ++hour.succeeded, ++stats.succeeded;
      else if (state == "failed")
        ++hour.failed, ++stats.failed;
      else
        ++hour.canceled, ++stats.canceled;
      if (started > 0) {
        waits.push_back(started - created);
        runs.push_back(finished - started);
      }
    }
    auto median = [](std::vector<TimeMs>& v) -> std::optional<TimeMs> {
      if (v.empty()) return std::nullopt;
      auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
      std::nth_element(v.begin(), mid, v.end());
      return *mid;
    };
    stats.median_queue_wait_ms = median(waits);
    stats.median_run_ms = median(runs);
    return stats;
  });
}

template <typename B, typename C>
Result<std::vector<Job>> SqlStore<B, C>::runnable_jobs(TimeMs now, int limit) {
  return self().template transact<std::vector<Job>>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<std::vector<Job>> {
        auto rows = c.query(
            "SELECT id, tenant, labels, grp, type, owner_token_id, priority, repo_name, "
            "steward_fallback FROM jobs"
            " WHERE state = 'queued' AND not_before <= $1 ORDER BY not_before, seq LIMIT $2",
            now, limit);
        std::vector<Job> out;
        for (int i = 0; i < rows.size(); ++i) {
          Job job;
          read_columns(rows[i], 0, job.id, job.tenant);
          job.spec.labels = json::parse(rows[i].text(2)).template get<std::vector<std::string>>();
          read_columns(rows[i], 3, job.spec.group, job.spec.type, job.owner_token_id,
                       job.spec.priority, job.repo_name);
          if (!rows[i].is_null(8)) job.spec.steward_fallback = rows[i].integer(8) != 0;
          out.push_back(std::move(job));
        }
        return out;
      });
}

// ---- schedules (the schedules table, migration 4) and their sweep ----------------

template <typename B, typename C>
Result<Schedule> SqlStore<B, C>::create_schedule(const Schedule& schedule) {
  return self().template transact<Schedule>(StoreAccess::kWrite, [&](C& c) -> Result<Schedule> {
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

template <typename B, typename C>
Result<std::vector<Schedule>> SqlStore<B, C>::list_schedules(const std::string& tenant) {
  using Schedules = std::vector<Schedule>;
  return self().template transact<Schedules>(
      StoreAccess::kSnapshot, [&](C& c) -> Result<Schedules> {
        return all_rows(c.query(std::string("SELECT ") + kScheduleColumns +
                                    " FROM schedules WHERE tenant = $1 ORDER BY name",
                                tenant),
                        [](const auto& row) { return schedule_from_row(row); });
      });
}

template <typename B, typename C>
Result<Schedule> SqlStore<B, C>::get_schedule(const std::string& tenant,
                                              const std::string& id_or_name) {
  return self().template transact<Schedule>(StoreAccess::kSnapshot, [&](C& c) -> Result<Schedule> {
    return schedule_named(c, tenant, id_or_name);
  });
}

template <typename B, typename C>
Result<Schedule> SqlStore<B, C>::delete_schedule(const std::string& tenant,
                                                 const std::string& id_or_name) {
  return self().template transact<Schedule>(StoreAccess::kWrite, [&](C& c) -> Result<Schedule> {
    auto s = schedule_named(c, tenant, id_or_name);
    if (s.ok()) c.query("DELETE FROM schedules WHERE id = $1", s->id);
    return s;
  });
}

template <typename B, typename C>
Result<Schedule> SqlStore<B, C>::set_schedule_paused(const std::string& tenant,
                                                     const std::string& id_or_name, bool paused,
                                                     TimeMs now) {
  return self().template transact<Schedule>(StoreAccess::kWrite, [&](C& c) -> Result<Schedule> {
    auto s = schedule_named(c, tenant, id_or_name);
    if (!s.ok()) return s;
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

template <typename B, typename C>
Result<std::vector<Job>> SqlStore<B, C>::run_due_schedules(TimeMs now,
                                                           const ScheduleDecider& decide) {
  return self().template transact<std::vector<Job>>(
      StoreAccess::kWrite, [&](C& c) -> Result<std::vector<Job>> {
        // SKIP LOCKED (PostgreSQL): a schedule another server is ticking is theirs; when they
        // commit, its next_run_at has moved on. The tick job's idempotency key backs this up.
        auto due = all_rows(
            c.query(
                std::string("SELECT ") + kScheduleColumns +
                    " FROM schedules WHERE paused = 0 AND next_run_at IS NOT NULL AND next_run_at "
                    "<= $1 ORDER BY next_run_at, id" +
                    C::kSkipLocked,
                now),
            [](const auto& row) { return schedule_from_row(row); });
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
            if (!job.repo_name.empty()) repo = load_repo(c, job.tenant, job.repo_name);
            apply_repo_mapping(job, repo ? &*repo : nullptr);
            // The idempotency key (schedule_job_key) makes a second insert for the same tick a
            // no-op.
            auto inserted = c.query(
                "INSERT INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, priority,"
                " state, max_attempts, not_before, created_at, updated_at, idempotency_key, "
                "repo_name,"
                " group_source, steward_fallback)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $11, $12, $13, "
                "$14,"
                " $15) ON CONFLICT DO NOTHING RETURNING seq",
                job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
                job.spec.max_attempts, job.not_before, job.created_at, job.idempotency_key,
                job.repo_name, job.group_source, job.spec.steward_fallback);
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
              "UPDATE schedules SET last_tick_at = $1, last_run_at = $2, last_job_id = $3, "
              "next_run_at "
              "= $4 WHERE id = $5",
              last_tick, last_run, last_job, d.next_tick, s.id);
        }
        return made;
      });
}

// ---- repository mappings (the repos table, migration 5) ---------------------------

template <typename B, typename C>
Result<std::vector<RepoMapping>> SqlStore<B, C>::list_repos(const std::string& tenant) {
  using Repos = std::vector<RepoMapping>;
  return self().template transact<Repos>(StoreAccess::kRead, [&](C& c) -> Result<Repos> {
    return all_rows(
        c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 ORDER BY full_name",
                tenant),
        [](const auto& row) { return repo_from_row(row); });
  });
}

template <typename B, typename C>
Result<std::optional<RepoMapping>> SqlStore<B, C>::find_repo(const std::string& tenant,
                                                             const std::string& full_name) {
  using Found = std::optional<RepoMapping>;
  return self().template transact<Found>(
      StoreAccess::kRead, [&](C& c) -> Result<Found> { return load_repo(c, tenant, full_name); });
}

template <typename B, typename C>
Result<RepoMapping> SqlStore<B, C>::put_repo(const RepoMapping& repo) {
  return self().template transact<RepoMapping>(
      StoreAccess::kWrite, [&](C& c) -> Result<RepoMapping> {
        auto rows = c.query(
            "INSERT INTO repos (" CORRAL_REPO_COLUMNS
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (tenant, full_name) DO UPDATE SET grp = excluded.grp,"
            " steward_runner = excluded.steward_runner, steward_group = excluded.steward_group,"
            " updated_at = excluded.updated_at, updated_by = excluded.updated_by,"
            " clone_url = excluded.clone_url, webhook_secret = CASE WHEN CAST($12 AS INTEGER) = 1"
            " THEN excluded.webhook_secret ELSE repos.webhook_secret END "
            "RETURNING " CORRAL_REPO_COLUMNS,
            repo.tenant, repo.full_name, repo.group, repo.steward_runner, repo.steward_group,
            repo.created_at, repo.updated_at, repo.updated_by, repo.clone_url,
            repo.last_auto_refresh_at, repo.webhook_secret, repo.webhook_secret_given ? 1 : 0);
        return repo_from_row(rows.front());
      });
}

template <typename B, typename C>
Result<std::vector<RepoMapping>> SqlStore<B, C>::repos_with_webhook(const std::string& full_name) {
  using Repos = std::vector<RepoMapping>;
  return self().template transact<Repos>(StoreAccess::kRead, [&](C& c) -> Result<Repos> {
    return all_rows(c.query("SELECT " CORRAL_REPO_COLUMNS
                            " FROM repos WHERE full_name = $1 AND webhook_secret != ''"
                            " ORDER BY tenant",
                            full_name),
                    [](const auto& row) { return repo_from_row(row); });
  });
}

template <typename B, typename C>
Result<std::vector<RepoMapping>> SqlStore<B, C>::stewarded_repos() {
  using Repos = std::vector<RepoMapping>;
  return self().template transact<Repos>(StoreAccess::kRead, [&](C& c) -> Result<Repos> {
    return all_rows(
        c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos"
                " WHERE steward_runner != '' OR steward_group != '' ORDER BY tenant, full_name"),
        [](const auto& row) { return repo_from_row(row); });
  });
}

template <typename B, typename C>
Result<void> SqlStore<B, C>::mark_auto_refresh(const std::string& tenant,
                                               const std::string& full_name, TimeMs now) {
  return self().template transact<void>(StoreAccess::kWriteOne, [&](C& c) -> Result<void> {
    c.query(
        "UPDATE repos SET last_auto_refresh_at = CASE WHEN last_auto_refresh_at > $1"
        " THEN last_auto_refresh_at ELSE $1 END WHERE tenant = $2 AND full_name = $3",
        now, tenant, full_name);
    return {};
  });
}

template <typename B, typename C>
Result<RepoMapping> SqlStore<B, C>::delete_repo(const std::string& tenant,
                                                const std::string& full_name) {
  return self().template transact<RepoMapping>(
      StoreAccess::kWrite, [&](C& c) -> Result<RepoMapping> {
        auto rows = c.query(
            "DELETE FROM repos WHERE tenant = $1 AND full_name = $2 RETURNING " CORRAL_REPO_COLUMNS,
            tenant, full_name);
        if (rows.empty()) return no_repo(full_name);
        return repo_from_row(rows.front());
      });
}

// ---- tenant settings (the tenant_settings table, migration 8) ----------------------

template <typename B, typename C>
Result<TenantSettings> SqlStore<B, C>::get_tenant_settings(const std::string& tenant) {
  return self().template transact<TenantSettings>(
      StoreAccess::kRead, [&](C& c) -> Result<TenantSettings> {
        auto rows = c.query(
            "SELECT tenant, refresh_timezone, updated_at, updated_by FROM tenant_settings"
            " WHERE tenant = $1",
            tenant);
        TenantSettings settings;
        settings.tenant = tenant;
        if (!rows.empty()) {
          read_columns(rows.front(), 0, settings.tenant, settings.refresh_timezone,
                       settings.updated_at, settings.updated_by);
        }
        return settings;
      });
}

template <typename B, typename C>
Result<TenantSettings> SqlStore<B, C>::put_tenant_settings(const TenantSettings& settings) {
  return self().template transact<TenantSettings>(
      StoreAccess::kWriteOne, [&](C& c) -> Result<TenantSettings> {
        auto rows = c.query(
            "INSERT INTO tenant_settings (tenant, refresh_timezone, updated_at, updated_by)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO UPDATE SET"
            " refresh_timezone = excluded.refresh_timezone, updated_at = excluded.updated_at,"
            " updated_by = excluded.updated_by"
            " RETURNING tenant, refresh_timezone, updated_at, updated_by",
            settings.tenant, settings.refresh_timezone, settings.updated_at, settings.updated_by);
        TenantSettings stored;
        read_columns(rows.front(), 0, stored.tenant, stored.refresh_timezone, stored.updated_at,
                     stored.updated_by);
        return stored;
      });
}

template <typename B, typename C>
Result<std::map<std::string, std::string>> SqlStore<B, C>::tenant_refresh_timezones() {
  using Zones = std::map<std::string, std::string>;
  return self().template transact<Zones>(StoreAccess::kRead, [&](C& c) -> Result<Zones> {
    auto rows = c.query(
        "SELECT tenant, refresh_timezone FROM tenant_settings WHERE refresh_timezone != ''");
    Zones out;
    for (int i = 0; i < rows.size(); ++i) out[rows[i].text(0)] = rows[i].text(1);
    return out;
  });
}

}  // namespace corral

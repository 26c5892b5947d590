// PostgresStore: jobs (create, read, list, cancel) and the queue's statistics.
#include <algorithm>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

Result<CreateJobResult> PostgresStore::create_job(const Job& job) {
  // One INSERT that commits by itself (one round trip); a repeated Idempotency-Key then
  // reads the job the first submit committed.
  return run<CreateJobResult>([&](Connection& c) -> Result<CreateJobResult> {
    std::optional<std::string> key;
    if (!job.idempotency_key.empty()) key = job.idempotency_key;
    // ON CONFLICT: a concurrent submit with the same Idempotency-Key (on any server) waits
    // for the other to commit and then finds its job below.
    // Secret values go in by the same statement (a data-modifying CTE): a claim never sees
    // the job without them. The job's conflict (a repeated key) inserts none.
    const std::string insert_job =
        "INSERT INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, priority, state,"
        " max_attempts, not_before, created_at, updated_at, idempotency_key, repo_name, "
        "group_source,"
        " steward_fallback)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $12, $13, $14, $15, $16)"
        " ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING seq, id";
    auto rows =
        job.spec.secrets.empty()
            ? c.query(insert_job, job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                      json(job.spec.labels).dump(), job.spec.group, job.spec.type,
                      job.spec.priority, job.spec.max_attempts, job.not_before, job.created_at,
                      job.created_at, key, job.repo_name, job.group_source,
                      job.spec.steward_fallback)
            : c.query("WITH j AS (" + insert_job +
                          "), s AS (INSERT INTO job_secrets (job_id, name, value)"
                          " SELECT j.id, x.key, x.value FROM j, jsonb_each_text($17::jsonb) x)"
                          " SELECT seq FROM j",
                      job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                      json(job.spec.labels).dump(), job.spec.group, job.spec.type,
                      job.spec.priority, job.spec.max_attempts, job.not_before, job.created_at,
                      job.created_at, key, job.repo_name, job.group_source,
                      job.spec.steward_fallback, json(job.spec.secrets).dump());
    if (rows.empty()) {
      auto existing = c.query("SELECT id FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
                              job.tenant, job.idempotency_key);
      if (existing.empty())
        return make_error(ErrorCode::kInternal, "job with idempotency key vanished");
      auto found = pg::load_job(c, job.tenant, existing.front().text(0));
      return CreateJobResult{*found, false};
    }
    Job created = job;
    created.state = JobState::kQueued;
    created.updated_at = job.created_at;
    created.seq = rows.front().int64(0);
    return CreateJobResult{std::move(created), true};
  });
}

Result<Job> PostgresStore::get_job(const std::string& tenant, const std::string& id) {
  // The job, then its attempts (two reads, no transaction around them).
  return run<Job>([&](Connection& c) -> Result<Job> {
    auto job = pg::load_job(c, tenant, id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + id);
    return *job;
  });
}

Result<JobPage> PostgresStore::list_jobs(const std::string& tenant, const JobQuery& query) {
  return tx<JobPage>([&](Connection& c) -> Result<JobPage> {
    pg::Params params;
    params.add(tenant);
    std::string sql = std::string("SELECT ") + pg::kJobColumns + " FROM jobs WHERE tenant = $1";
    auto next = [&params] { return "$" + std::to_string(params.size()); };
    if (query.state) {
      params.add(std::string(to_string(*query.state)));
      sql += " AND state = " + next();
    }
    if (query.cursor > 0) {
      params.add(query.cursor);
      sql += " AND seq < " + next();
    }
    if (!query.label.empty()) {
      params.add(query.label);
      sql += " AND jsonb_exists(jobs.labels::jsonb, " + next() + "::text)";
    }
    if (!query.runner.empty()) {
      params.add(query.runner);
      sql +=
          " AND EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = jobs.id AND a.runner_id IN"
          " (SELECT id FROM runners WHERE tenant = $1 AND (id = " +
          next() + " OR name = " + next() + ")))";
    }
    params.add(query.limit + 1);
    sql += " ORDER BY seq DESC LIMIT " + next();
    auto rows = c.exec(sql, params);
    JobPage page;
    for (int i = 0; i < rows.size(); ++i) page.jobs.push_back(pg::job_from_row(rows[i]));
    if (static_cast<int>(page.jobs.size()) > query.limit) {
      page.jobs.pop_back();
      page.next_cursor = page.jobs.back().seq;
    }
    for (auto& job : page.jobs) job.attempts = pg::load_attempts(c, job.id);
    return page;
  });
}

Result<Job> PostgresStore::cancel_job(const std::string& tenant, const std::string& id,
                                      TimeMs now) {
  return tx<Job>([&](Connection& c) -> Result<Job> {
    // Locked first: a claim, start or finish of this job on another server waits for us.
    if (c.query("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", id).empty()) {
      return make_error(ErrorCode::kNotFound, "no job with id " + id);
    }
    auto job = pg::load_job(c, tenant, id);
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
          " finished_at = $1, updated_at = $2 WHERE id = $3",
          now, now, id);
      if (job->state == JobState::kLeased && !job->attempts.empty()) {
        pg::refresh_runner_status(c, job->attempts.back().runner_id);
      }
    } else {
      c.query("UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2", now, id);
    }
    return *pg::load_job(c, tenant, id);
  });
}

Result<QueueStats> PostgresStore::queue_stats(const std::string& tenant, TimeMs now) {
  (void)now;
  return tx<QueueStats>([&](Connection& c) -> Result<QueueStats> {
    QueueStats stats;
    for (auto s : {"queued", "leased", "running", "succeeded", "failed", "canceled"})
      stats.by_state[s] = 0;
    {
      auto rows =
          c.query("SELECT state, COUNT(*) FROM jobs WHERE tenant = $1 GROUP BY state", tenant);
      for (int i = 0; i < rows.size(); ++i) stats.by_state[rows[i].text(0)] = rows[i].int64(1);
    }
    {
      auto rows = c.query(
          "SELECT grp, COUNT(*) FILTER (WHERE state = 'queued'), COUNT(*) FILTER (WHERE state IN "
          "('leased', 'running'))"
          " FROM jobs WHERE tenant = $1 AND state IN ('queued', 'leased', 'running') GROUP BY grp "
          "ORDER BY grp",
          tenant);
      for (int i = 0; i < rows.size(); ++i)
        stats.by_group.push_back({rows[i].text(0), rows[i].int64(1), rows[i].int64(2)});
    }
    {
      auto rows = c.query(
          "SELECT labels, COUNT(*) FROM jobs WHERE tenant = $1 AND state = 'queued'"
          " GROUP BY labels ORDER BY COUNT(*) DESC, labels",
          tenant);
      for (int i = 0; i < rows.size(); ++i) {
        stats.by_labels.push_back(
            {json::parse(rows[i].text(0)).get<std::vector<std::string>>(), rows[i].int64(1)});
      }
    }
    {
      auto rows = c.query("SELECT MIN(created_at) FROM jobs WHERE tenant = $1 AND state = 'queued'",
                          tenant);
      if (!rows.empty() && !rows.front().is_null(0)) stats.oldest_queued_at = rows.front().int64(0);
    }
    return stats;
  });
}

Result<QueuePosition> PostgresStore::queue_position(const std::string& tenant,
                                                    const std::string& job_id, TimeMs now) {
  return tx<QueuePosition>([&](Connection& c) -> Result<QueuePosition> {
    auto found =
        c.query("SELECT seq, priority FROM jobs WHERE tenant = $1 AND id = $2", tenant, job_id);
    if (found.empty()) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
    int64_t seq = found.front().int64(0);
    int64_t priority = found.front().int64(1);
    auto rows = c.query(
        "SELECT COUNT(*) FILTER (WHERE priority > $1), COUNT(*) FILTER (WHERE priority = $1 AND "
        "seq < $2) FROM jobs"
        " WHERE tenant = $3 AND state = 'queued' AND not_before <= $4 AND priority >= $1",
        priority, seq, tenant, now);
    QueuePosition pos;
    if (!rows.empty()) {
      pos.higher_priority = rows.front().int64(0);
      pos.older = rows.front().int64(1);
    }
    return pos;
  });
}

Result<std::vector<Job>> PostgresStore::queued_jobs(const std::string& tenant, int limit) {
  return tx<std::vector<Job>>([&](Connection& c) -> Result<std::vector<Job>> {
    std::vector<Job> out;
    auto rows = c.query(std::string("SELECT ") + pg::kJobColumns +
                            " FROM jobs WHERE tenant = $1 AND state = 'queued' ORDER BY priority "
                            "DESC, seq ASC LIMIT $2",
                        tenant, limit);
    for (int i = 0; i < rows.size(); ++i) out.push_back(pg::job_from_row(rows[i]));
    return out;
  });
}

Result<std::vector<FinishedResult>> PostgresStore::agent_results(const std::string& tenant,
                                                                 TimeMs since) {
  return run<std::vector<FinishedResult>>(
      [&](Connection& c) -> Result<std::vector<FinishedResult>> {
        auto rows = c.query(
            "SELECT finished_at, result FROM jobs WHERE tenant = $1 AND finished_at >= $2"
            " AND result IS NOT NULL AND result LIKE '%\"agent\":%' ORDER BY finished_at",
            tenant, since);
        std::vector<FinishedResult> out;
        for (int i = 0; i < rows.size(); ++i) out.push_back({rows[i].int64(0), rows[i].text(1)});
        return out;
      });
}

Result<JobStats> PostgresStore::job_stats(const std::string& tenant, int hours, TimeMs now) {
  return tx<JobStats>([&](Connection& c) -> Result<JobStats> {
    constexpr TimeMs kHour = 3'600'000;
    JobStats stats;
    TimeMs first_hour = (now / kHour - (hours - 1)) * kHour;
    for (int i = 0; i < hours; ++i) stats.hours.push_back({first_hour + i * kHour});
    std::vector<TimeMs> waits, runs;
    auto rows = c.query(
        "SELECT state, created_at, started_at, finished_at FROM jobs"
        " WHERE tenant = $1 AND finished_at >= $2 AND state IN ('succeeded', 'failed', 'canceled')",
        tenant, first_hour);
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

Result<std::vector<Job>> PostgresStore::runnable_jobs(TimeMs now, int limit) {
  return tx<std::vector<Job>>([&](Connection& c) -> Result<std::vector<Job>> {
    std::vector<Job> out;
    auto rows = c.query(
        "SELECT id, tenant, labels, grp, type, owner_token_id, priority, repo_name, "
        "steward_fallback FROM jobs"
        " WHERE state = 'queued' AND not_before <= $1 ORDER BY not_before, seq LIMIT $2",
        now, limit);
    for (int i = 0; i < rows.size(); ++i) {
      Job job;
      job.id = rows[i].text(0);
      job.tenant = rows[i].text(1);
      job.spec.labels = json::parse(rows[i].text(2)).get<std::vector<std::string>>();
      job.spec.group = rows[i].text(3);
      job.spec.type = rows[i].text(4);
      job.owner_token_id = rows[i].text(5);
      job.spec.priority = rows[i].integer(6);
      job.repo_name = rows[i].text(7);
      if (!rows[i].is_null(8)) job.spec.steward_fallback = rows[i].integer(8) != 0;
      out.push_back(std::move(job));
    }
    return out;
  });
}

}  // namespace corral

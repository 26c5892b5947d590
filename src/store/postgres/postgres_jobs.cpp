// PostgresStore: jobs (create, read, list, cancel) and the queue's statistics.
#include <algorithm>
#include <map>
#include <optional>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

namespace {

// One job: one INSERT; a repeated Idempotency-Key then reads the job the first submit
// committed.
Result<CreateJobResult> insert_job(Connection& c, const Job& job) {
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
                    json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
                    job.spec.max_attempts, job.not_before, job.created_at, job.created_at, key,
                    job.repo_name, job.group_source, job.spec.steward_fallback)
          : c.query("WITH j AS (" + insert_job +
                        "), s AS (INSERT INTO job_secrets (job_id, name, value)"
                        " SELECT j.id, x.key, x.value FROM j, jsonb_each_text($17::jsonb) x)"
                        " SELECT seq FROM j",
                    job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                    json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
                    job.spec.max_attempts, job.not_before, job.created_at, job.created_at, key,
                    job.repo_name, job.group_source, job.spec.steward_fallback,
                    json(job.spec.secrets).dump());
  if (rows.empty()) {
    auto existing = c.query("SELECT id FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
                            job.tenant, job.idempotency_key);
    if (existing.empty())
      return make_error(ErrorCode::kInternal, "job with idempotency key vanished");
    auto found = load_job(c, job.tenant, existing.front().text(0));
    return CreateJobResult{*found, false};
  }
  Job created = job;
  created.state = JobState::kQueued;
  created.updated_at = job.created_at;
  created.seq = rows.front().int64(0);
  return CreateJobResult{std::move(created), true};
}

// The job a first submit with job's Idempotency-Key made, if any.
std::optional<Job> job_of_key(Connection& c, const Job& job) {
  if (job.idempotency_key.empty()) return std::nullopt;
  auto existing = c.query("SELECT id FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
                          job.tenant, job.idempotency_key);
  if (existing.empty()) return std::nullopt;
  return load_job(c, job.tenant, existing.front().text(0));
}

// Store::create_jobs' cap for each tenant among jobs; a job whose Idempotency-Key a first
// submit used is no new job (looked up only when the count alone would refuse).
Result<void> within_unfinished_caps(Connection& c, const std::vector<Job>& jobs,
                                    int64_t max_unfinished) {
  std::map<std::string, int64_t> adding;
  for (const auto& job : jobs) ++adding[job.tenant];
  for (const auto& [tenant, n] : adding) {
    if (within_unfinished_cap(c, tenant, n, max_unfinished).ok()) continue;
    int64_t fresh = 0;
    for (const auto& job : jobs) {
      if (job.tenant == tenant && !job_of_key(c, job)) ++fresh;
    }
    CORRAL_TRY(within_unfinished_cap(c, tenant, fresh, max_unfinished));
  }
  return {};
}

}  // namespace

Result<CreateJobResult> PostgresStore::create_job(const Job& job, int64_t max_unfinished) {
  // The INSERT commits by itself: one round trip, after the count's (concurrent submits, on
  // this server or others, may pass the cap by a few).
  return run<CreateJobResult>([&](Connection& c) -> Result<CreateJobResult> {
    auto capped = within_unfinished_cap(c, job.tenant, 1, max_unfinished);
    if (!capped.ok()) {
      if (auto first = job_of_key(c, job)) return CreateJobResult{std::move(*first), false};
      return capped.error();
    }
    return insert_job(c, job);
  });
}

Result<std::vector<CreateJobResult>> PostgresStore::create_jobs(const std::vector<Job>& jobs,
                                                                int64_t max_unfinished) {
  // One transaction: all of the jobs or none.
  return tx<std::vector<CreateJobResult>>(
      [&](Connection& c) -> Result<std::vector<CreateJobResult>> {
        CORRAL_TRY(within_unfinished_caps(c, jobs, max_unfinished));
        std::vector<CreateJobResult> created;
        created.reserve(jobs.size());
        for (const auto& job : jobs) {
          auto one = insert_job(c, job);
          if (!one.ok()) return one.error();
          created.push_back(std::move(one.value()));
        }
        return created;
      });
}

Result<JobPage> PostgresStore::list_jobs(const std::string& tenant, const JobQuery& query) {
  return tx<JobPage>([&](Connection& c) -> Result<JobPage> {
    pg::Params params;
    params.add(tenant);
    std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs WHERE tenant = $1";
    auto next = [&params] { return "$" + std::to_string(params.size()); };
    if (query.state) {
      params.add(std::string(to_string(*query.state)));
      sql += " AND state = " + next();
      // Lets the planner read jobs_in_flight (partial on these states) for such a list.
      if (job_in_flight(*query.state)) sql += " AND state IN ('leased', 'running')";
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
    for (int i = 0; i < rows.size(); ++i) page.jobs.push_back(job_from_row(rows[i]));
    if (static_cast<int>(page.jobs.size()) > query.limit) {
      page.jobs.pop_back();
      page.next_cursor = page.jobs.back().seq;
    }
    for (auto& job : page.jobs) job.attempts = load_attempts(c, job.id);
    return page;
  });
}

}  // namespace corral

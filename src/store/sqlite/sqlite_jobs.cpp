// SqliteStore: jobs, attempts, logs and lease expiry.
#include <algorithm>
#include <map>

#include "store/attempt_rules.h"
#include "store/fair_share.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;

namespace sqlite {

void insert_job_secrets(Db& db, const std::string& job_id,
                        const std::map<std::string, std::string>& secrets) {
  for (const auto& [name, value] : secrets) {
    db.prepare("INSERT OR REPLACE INTO job_secrets (job_id, name, value) VALUES (?, ?, ?)")
        .bind_all(job_id, name, value)
        .exec();
  }
}

}  // namespace sqlite

namespace {

// The job a first submit with job's Idempotency-Key made, if any.
std::optional<Job> job_of_key(Db& db, const Job& job) {
  if (job.idempotency_key.empty()) return std::nullopt;
  std::string existing;
  {
    auto st = db.prepare("SELECT id FROM jobs WHERE tenant = ? AND idempotency_key = ?");
    st.bind_all(job.tenant, job.idempotency_key);
    if (st.step()) existing = st.text(0);
  }
  if (existing.empty()) return std::nullopt;
  return load_job(db, job.tenant, existing);
}

// One new job (its key, if any, unused) into the open transaction.
CreateJobResult insert_job(Db& db, const Job& job) {
  auto st = db.prepare(
      "INSERT INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, priority, state,"
      " max_attempts, not_before, created_at, updated_at, repo_name, group_source, "
      "steward_fallback,"
      " idempotency_key)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind_all(job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
              json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
              job.spec.max_attempts, job.not_before, job.created_at, job.created_at, job.repo_name,
              job.group_source, job.spec.steward_fallback);
  if (job.idempotency_key.empty())
    st.bind_null(16);
  else
    st.bind(16, job.idempotency_key);
  st.exec();
  sqlite::insert_job_secrets(db, job.id, job.spec.secrets);
  Job created = job;
  created.state = JobState::kQueued;
  created.updated_at = job.created_at;
  created.seq = sqlite3_last_insert_rowid(db.raw());
  return CreateJobResult{std::move(created), true};
}

// create_job's work in the writer's open transaction: the first submit's job for a repeated
// key, else the new job within the cap.
Result<CreateJobResult> create_in(Db& db, const Job& job, int64_t max_unfinished) {
  if (auto first = job_of_key(db, job)) return CreateJobResult{std::move(*first), false};
  CORRAL_TRY(within_unfinished_cap(db, job.tenant, 1, max_unfinished));
  return insert_job(db, job);
}

}  // namespace

Result<CreateJobResult> SqliteStore::create_job(const Job& job, int64_t max_unfinished) {
  // In the writer: the cap holds exactly, however many submits come at once.
  return write<CreateJobResult>([&](Db& db) { return create_in(db, job, max_unfinished); });
}

Result<std::vector<CreateJobResult>> SqliteStore::create_jobs(const std::vector<Job>& jobs,
                                                              int64_t max_unfinished) {
  // One write op: a failing insert rolls back its savepoint, so none of the jobs is stored.
  return write<std::vector<CreateJobResult>>([&](Db& db) -> Result<std::vector<CreateJobResult>> {
    std::vector<std::optional<Job>> repeats;
    std::map<std::string, int64_t> adding;  // new jobs by tenant
    for (const auto& job : jobs) {
      repeats.push_back(job_of_key(db, job));
      if (!repeats.back()) ++adding[job.tenant];
    }
    for (const auto& [tenant, n] : adding) {
      CORRAL_TRY(within_unfinished_cap(db, tenant, n, max_unfinished));
    }
    std::vector<CreateJobResult> created;
    created.reserve(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      created.push_back(repeats[i] ? CreateJobResult{std::move(*repeats[i]), false}
                                   : insert_job(db, jobs[i]));
    }
    return created;
  });
}

Result<JobPage> SqliteStore::list_jobs(const std::string& tenant, const JobQuery& query) {
  return read<JobPage>([&](Db& db) -> Result<JobPage> {
    // Jobs in flight are read through their own index (at most the runners' slots of them),
    // not by walking the tenant's jobs newest first: a deep queue is newer than what runs.
    bool in_flight = query.state && job_in_flight(*query.state);
    std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs" +
                      (in_flight ? " INDEXED BY jobs_in_flight" : "") + " WHERE tenant = ?1";
    if (query.state) sql += " AND state = ?2";
    if (in_flight) sql += " AND state IN ('leased', 'running')";
    if (query.cursor > 0) sql += " AND seq < ?3";
    if (!query.label.empty())
      sql += " AND EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE value = ?5)";
    if (!query.runner.empty()) {
      sql +=
          " AND EXISTS (SELECT 1 FROM attempts a WHERE a.job_id = jobs.id AND a.runner_id IN"
          " (SELECT id FROM runners WHERE tenant = ?1 AND (id = ?6 OR name = ?6)))";
    }
    sql += " ORDER BY seq DESC LIMIT ?4";
    auto st = db.prepare(sql);
    st.bind(1, tenant);
    if (query.state) st.bind(2, std::string(to_string(*query.state)));
    if (query.cursor > 0) st.bind(3, query.cursor);
    st.bind(4, query.limit + 1);
    if (!query.label.empty()) st.bind(5, query.label);
    if (!query.runner.empty()) st.bind(6, query.runner);
    JobPage page;
    while (st.step()) page.jobs.push_back(job_from_row(st));
    if (static_cast<int>(page.jobs.size()) > query.limit) {
      page.jobs.pop_back();
      page.next_cursor = page.jobs.back().seq;
    }
    for (auto& job : page.jobs) job.attempts = load_attempts(db, job.id);
    return page;
  });
}

Result<std::vector<ClaimedJob>> SqliteStore::claim(const std::string& runner_id, int slots,
                                                   TimeMs now, TimeMs lease_ms,
                                                   const ClaimRule& rule) {
  // One writer, no round trips: the matcher decides here even for a normal() rule.
  return write<std::vector<ClaimedJob>>(
      [&](Db& db) { return claim_in(db, runner_id, slots, now, lease_ms, rule); });
}

Result<std::pair<CreateJobResult, std::vector<ClaimedJob>>> SqliteStore::create_job_and_claim(
    const Job& job, int64_t max_unfinished, TimeMs now, const Dispatch& dispatch) {
  using Both = std::pair<CreateJobResult, std::vector<ClaimedJob>>;
  // One write op, so one commit: the job and its lease become durable together.
  return write<Both>([&](Db& db) -> Result<Both> {
    auto created = create_in(db, job, max_unfinished);
    if (!created.ok()) return created.error();
    auto claimed =
        claim_in(db, dispatch.runner_id, dispatch.slots, now, dispatch.lease_ms, dispatch.rule);
    // The job stays stored whatever became of the claim (a runner deleted meanwhile).
    if (!claimed.ok()) return Both{std::move(*created), {}};
    return Both{std::move(*created), std::move(*claimed)};
  });
}

Result<std::vector<ClaimedJob>> SqliteStore::claim_in(Db& db, const std::string& runner_id,
                                                      int slots, TimeMs now, TimeMs lease_ms,
                                                      const ClaimRule& rule) {
  auto runner = sqlite::load_runner(db, runner_id);
  if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
  std::vector<ClaimedJob> claimed;
  int free_slots = claim_free_slots(*runner, slots);
  if (free_slots == 0) return claimed;
  auto queues = owner_queues(db, *runner, free_slots, now, rule);
  while (static_cast<int>(claimed.size()) < free_slots) {
    OwnerQueue* best = next_owner_queue(queues);
    if (!best) break;
    const ClaimCandidate& c = take_next(*best, now);
    db.prepare(
          "INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at) VALUES (?, ?, ?)"
          " ON CONFLICT (tenant, owner_token_id) DO UPDATE SET last_claimed_at = "
          "excluded.last_claimed_at")
        .bind_all(runner->tenant, best->owner, now)
        .exec();
    claimed.push_back(lease_job(db, c, c.job.attempt + 1, runner_id, now, lease_ms));
  }
  if (!claimed.empty()) refresh_runner_status(db, runner_id);
  return claimed;
}

Result<Attempt> SqliteStore::start_in(Db& db, const std::string& runner_id,
                                      const std::string& job_id, int attempt, TimeMs now) {
  auto active = active_attempt(db, runner_id, job_id, attempt);
  if (!active.ok()) return active.error();
  if (active->state == "leased") {
    db.prepare(
          "UPDATE attempts SET state = 'running', started_at = ? WHERE job_id = ? AND attempt = "
          "?")
        .bind_all(now, job_id, attempt)
        .exec();
    db.prepare(
          "UPDATE jobs SET state = 'running', updated_at = ?,"
          " started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END WHERE id = ?")
        .bind_all(now, now, job_id)
        .exec();
  }
  for (auto& a : load_attempts(db, job_id)) {
    if (a.number == attempt) return a;
  }
  return make_error(ErrorCode::kInternal, "attempt vanished");
}

Result<Attempt> SqliteStore::start_attempt(const std::string& runner_id, const std::string& job_id,
                                           int attempt, TimeMs now) {
  return write<Attempt>([&](Db& db) { return start_in(db, runner_id, job_id, attempt, now); });
}

std::vector<Result<Attempt>> SqliteStore::start_attempts(const std::string& runner_id,
                                                         const std::vector<AttemptRef>& attempts,
                                                         TimeMs now) {
  std::vector<std::function<Result<Attempt>(Db&)>> fns;
  for (const auto& a : attempts) {
    fns.push_back([&](Db& db) { return start_in(db, runner_id, a.job_id, a.attempt, now); });
  }
  return write_each(fns);
}

Result<void> SqliteStore::write_log_bytes(sqlite::Db& db, const std::string& job_id, int attempt,
                                          int64_t at, const std::string& bytes) {
  (void)db;
  return log_files_->write_at(job_id, attempt, at, bytes);
}

Result<Job> SqliteStore::finish_in(Db& db, const std::string& runner_id, const std::string& job_id,
                                   int attempt, const FinishReport& report, TimeMs now) {
  auto active = fenced_attempt(db, runner_id, job_id, attempt);
  if (!active.ok()) return active.error();
  if (!active->active()) {
    // A repeated finish (the runner did not see our first answer) is answered again.
    if (active->state == to_string(report.state)) return *load_job(db, "", job_id);
    return attempt_not_active(job_id, attempt, *active);
  }
  auto plan = plan_finish(report, active->cancel_requested, attempt, now, [&] {
    RetryFacts facts{0, retry_policy_of(db, job_id)};
    auto st = db.prepare("SELECT max_attempts FROM jobs WHERE id = ?");
    st.bind_all(job_id);
    if (st.step()) facts.max_attempts = st.integer(0);
    return facts;
  });
  db.prepare(
        "UPDATE attempts SET state = ?, exit_code = ?, reason = ?, finished_at = ?"
        " WHERE job_id = ? AND attempt = ?")
      .bind_all(plan.attempt_state, report.exit_code, plan.attempt_reason, now, job_id, attempt)
      .exec();
  if (plan.retry) {
    db.prepare(
          "UPDATE jobs SET state = 'queued', not_before = ?, exit_code = ?, reason = ?,"
          " updated_at = ? WHERE id = ?")
        .bind_all(plan.not_before, report.exit_code, plan.job_reason, now, job_id)
        .exec();
  } else {
    auto st = db.prepare(
        "UPDATE jobs SET state = ?, exit_code = ?, reason = ?, result = ?,"
        " finished_at = ?, updated_at = ? WHERE id = ?");
    st.bind_all(plan.job_state, report.exit_code, plan.job_reason);
    if (plan.result)
      st.bind(4, *plan.result);
    else
      st.bind_null(4);
    st.bind(5, now).bind(6, now).bind(7, job_id);
    st.exec();
  }
  refresh_runner_status(db, runner_id);
  return *load_job(db, "", job_id);
}

Result<Job> SqliteStore::finish_attempt(const std::string& runner_id, const std::string& job_id,
                                        int attempt, const FinishReport& report, TimeMs now) {
  return write<Job>([&](Db& db) { return finish_in(db, runner_id, job_id, attempt, report, now); });
}

std::vector<Result<Job>> SqliteStore::finish_attempts(const std::string& runner_id,
                                                      const std::vector<AttemptFinish>& finishes,
                                                      TimeMs now) {
  std::vector<std::function<Result<Job>(Db&)>> fns;
  for (const auto& f : finishes) {
    fns.push_back(
        [&](Db& db) { return finish_in(db, runner_id, f.job_id, f.attempt, f.report, now); });
  }
  return write_each(fns);
}

Result<void> SqliteStore::put_agent_events(const std::string& runner_id, const std::string& job_id,
                                           int attempt, std::string_view data) {
  return write<void>([&](Db& db) -> Result<void> {
    auto active = active_attempt(db, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    db.prepare("INSERT OR REPLACE INTO attempt_events (job_id, attempt, data) VALUES (?, ?, ?)")
        .bind_all(job_id, attempt)
        .bind_blob(3, data)
        .exec();
    return {};
  });
}

Result<std::string> SqliteStore::log_bytes(sqlite::Db& db, const std::string& job_id, int attempt,
                                           int64_t offset, int64_t n) {
  (void)db;
  return log_files_->read(job_id, attempt, offset, n);
}

Result<LeaseSweep> SqliteStore::expire_leases(TimeMs now) {
  return write<LeaseSweep>([&](Db& db) -> Result<LeaseSweep> {
    std::vector<std::tuple<std::string, int, std::string>> expired;
    {
      auto st = db.prepare(
          "SELECT job_id, attempt, runner_id FROM attempts"
          " WHERE state IN ('leased', 'running') AND lease_expires_at < ?");
      st.bind_all(now);
      while (st.step()) expired.emplace_back(st.text(0), st.integer(1), st.text(2));
    }
    LeaseSweep sweep;
    for (const auto& [job_id, attempt, runner_id] : expired) {
      ++sweep.lost_attempts;
      if (lose_attempt(db, job_id, attempt, now)) sweep.requeued_job_ids.push_back(job_id);
      refresh_runner_status(db, runner_id);
    }
    return sweep;
  });
}

}  // namespace corral

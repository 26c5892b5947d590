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

RetryPolicy retry_policy_of(Db& db, const std::string& job_id) {
  auto st = db.prepare("SELECT spec FROM jobs WHERE id = ?");
  st.bind_all(job_id);
  if (!st.step()) return {};
  auto spec = parse_job_spec(json::parse(st.text(0), nullptr, false));
  return spec.ok() ? spec->retry : RetryPolicy{};
}

void insert_job_secrets(Db& db, const std::string& job_id,
                        const std::map<std::string, std::string>& secrets) {
  for (const auto& [name, value] : secrets) {
    db.prepare("INSERT OR REPLACE INTO job_secrets (job_id, name, value) VALUES (?, ?, ?)")
        .bind_all(job_id, name, value)
        .exec();
  }
}

void load_job_secrets(Db& db, const std::string& job_id, JobSpec& spec) {
  if (spec.secrets.empty()) return;
  auto st = db.prepare("SELECT name, value FROM job_secrets WHERE job_id = ?");
  st.bind_all(job_id);
  while (st.step()) {
    auto it = spec.secrets.find(st.text(0));
    if (it != spec.secrets.end()) it->second = st.text(1);
  }
}

std::vector<std::string> lose_runner_attempts(Db& db, const std::string& runner_id, int64_t now) {
  std::vector<std::pair<std::string, int>> held;
  {
    auto st = db.prepare(
        "SELECT job_id, attempt FROM attempts WHERE runner_id = ? AND state IN ('leased', "
        "'running')");
    st.bind_all(runner_id);
    while (st.step()) held.emplace_back(st.text(0), st.integer(1));
  }
  std::vector<std::string> requeued;
  for (const auto& [job_id, attempt] : held) {
    if (lose_attempt(db, job_id, attempt, now)) requeued.push_back(job_id);
  }
  return requeued;
}

bool lose_attempt(Db& db, const std::string& job_id, int attempt, int64_t now) {
  db.prepare(
        "UPDATE attempts SET state = 'lost', reason = 'runner_lost', finished_at = ?"
        " WHERE job_id = ? AND attempt = ? AND state IN ('leased', 'running')")
      .bind_all(now, job_id, attempt)
      .exec();
  std::string state;
  int current = 0, max_attempts = 0;
  bool cancel_requested = false;
  {
    auto st =
        db.prepare("SELECT state, attempt, max_attempts, cancel_requested FROM jobs WHERE id = ?");
    st.bind_all(job_id);
    if (!st.step()) return false;
    state = st.text(0);
    current = st.integer(1);
    max_attempts = st.integer(2);
    cancel_requested = st.integer(3) != 0;
  }
  if (current != attempt || (state != "leased" && state != "running")) return false;
  if (cancel_requested) {
    db.prepare(
          "UPDATE jobs SET state = 'canceled', reason = 'canceled', finished_at = ?, updated_at = "
          "? WHERE id = ?")
        .bind_all(now, now, job_id)
        .exec();
    return false;
  }
  // A lost attempt is retried at once: the job did nothing wrong, another runner can take it.
  if (current < max_attempts && retry_policy_of(db, job_id).retries("runner_lost")) {
    db.prepare("UPDATE jobs SET state = 'queued', not_before = ?, updated_at = ? WHERE id = ?")
        .bind_all(now, now, job_id)
        .exec();
    return true;
  }
  db.prepare(
        "UPDATE jobs SET state = 'failed', reason = 'runner_lost', finished_at = ?, updated_at = ? "
        "WHERE id = ?")
      .bind_all(now, now, job_id)
      .exec();
  return false;
}

}  // namespace sqlite

namespace {

// The fencing check every runner call about an attempt goes through (store/attempt_rules.h).
Result<AttemptFence> fenced_attempt(Db& db, const std::string& runner_id, const std::string& job_id,
                                    int attempt) {
  auto st = db.prepare(
      "SELECT a.runner_id, a.state, a.log_size, j.attempt, j.cancel_requested, j.state,"
      " a.log_received, a.log_truncated FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE "
      "a.job_id = ? AND a.attempt = ?");
  st.bind_all(job_id, attempt);
  std::optional<AttemptFence> found;
  if (st.step()) {
    found = AttemptFence{st.text(0),         st.text(1), st.int64(2), st.integer(3),
                         st.integer(4) != 0, st.text(5), st.int64(6), st.integer(7) != 0};
  }
  return check_fence(found, runner_id, job_id, attempt);
}

}  // namespace

Result<CreateJobResult> SqliteStore::create_job(const Job& job) {
  return write<CreateJobResult>([&](Db& db) -> Result<CreateJobResult> {
    if (!job.idempotency_key.empty()) {
      std::string existing;
      {
        auto st = db.prepare("SELECT id FROM jobs WHERE tenant = ? AND idempotency_key = ?");
        st.bind_all(job.tenant, job.idempotency_key);
        if (st.step()) existing = st.text(0);
      }
      if (!existing.empty()) {
        auto found = sqlite::load_job(db, job.tenant, existing);
        return CreateJobResult{*found, false};
      }
    }
    auto st = db.prepare(
        "INSERT INTO jobs (id, tenant, owner_token_id, spec, labels, grp, type, priority, state,"
        " max_attempts, not_before, created_at, updated_at, repo_name, group_source, "
        "steward_fallback,"
        " idempotency_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind_all(job.id, job.tenant, job.owner_token_id, to_json(job.spec).dump(),
                json(job.spec.labels).dump(), job.spec.group, job.spec.type, job.spec.priority,
                job.spec.max_attempts, job.not_before, job.created_at, job.created_at,
                job.repo_name, job.group_source, job.spec.steward_fallback);
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
  });
}

Result<Job> SqliteStore::get_job(const std::string& tenant, const std::string& id) {
  return read<Job>([&](Db& db) -> Result<Job> {
    auto job = sqlite::load_job(db, tenant, id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + id);
    return *job;
  });
}

Result<JobPage> SqliteStore::list_jobs(const std::string& tenant, const JobQuery& query) {
  return read<JobPage>([&](Db& db) -> Result<JobPage> {
    std::string sql = std::string("SELECT ") + sqlite::kJobColumns + " FROM jobs WHERE tenant = ?1";
    if (query.state) sql += " AND state = ?2";
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
    while (st.step()) page.jobs.push_back(sqlite::job_from_row(st));
    if (static_cast<int>(page.jobs.size()) > query.limit) {
      page.jobs.pop_back();
      page.next_cursor = page.jobs.back().seq;
    }
    for (auto& job : page.jobs) job.attempts = sqlite::load_attempts(db, job.id);
    return page;
  });
}

Result<Job> SqliteStore::cancel_job(const std::string& tenant, const std::string& id, TimeMs now) {
  return write<Job>([&](Db& db) -> Result<Job> {
    auto job = sqlite::load_job(db, tenant, id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + id);
    if (is_terminal(job->state)) {
      return make_error(ErrorCode::kConflict, "job " + id + " already ended (" +
                                                  std::string(to_string(job->state)) + ")");
    }
    if (job->state == JobState::kQueued || job->state == JobState::kLeased) {
      // Nothing has started: cancel at once. A runner holding the lease gets 409 on start.
      db.prepare(
            "UPDATE attempts SET state = 'canceled', reason = 'canceled', finished_at = ?"
            " WHERE job_id = ? AND attempt = ? AND state = 'leased'")
          .bind_all(now, id, job->attempt)
          .exec();
      db.prepare(
            "UPDATE jobs SET state = 'canceled', reason = 'canceled', cancel_requested = 1,"
            " finished_at = ?, updated_at = ? WHERE id = ?")
          .bind_all(now, now, id)
          .exec();
      if (job->state == JobState::kLeased && !job->attempts.empty()) {
        sqlite::refresh_runner_status(db, job->attempts.back().runner_id);
      }
    } else {
      db.prepare("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?")
          .bind_all(now, id)
          .exec();
    }
    return *sqlite::load_job(db, tenant, id);
  });
}

Result<QueueStats> SqliteStore::queue_stats(const std::string& tenant, TimeMs now) {
  (void)now;
  return read<QueueStats>([&](Db& db) -> Result<QueueStats> {
    QueueStats stats;
    for (auto s : {"queued", "leased", "running", "succeeded", "failed", "canceled"})
      stats.by_state[s] = 0;
    {
      auto st = db.prepare("SELECT state, COUNT(*) FROM jobs WHERE tenant = ? GROUP BY state");
      st.bind_all(tenant);
      while (st.step()) stats.by_state[st.text(0)] = st.int64(1);
    }
    {
      auto st = db.prepare(
          "SELECT grp, SUM(state = 'queued'), SUM(state IN ('leased', 'running')) FROM jobs"
          " WHERE tenant = ? AND state IN ('queued', 'leased', 'running') GROUP BY grp ORDER BY "
          "grp");
      st.bind_all(tenant);
      while (st.step()) stats.by_group.push_back({st.text(0), st.int64(1), st.int64(2)});
    }
    {
      auto st = db.prepare(
          "SELECT labels, COUNT(*) FROM jobs WHERE tenant = ? AND state = 'queued'"
          " GROUP BY labels ORDER BY COUNT(*) DESC");
      st.bind_all(tenant);
      while (st.step()) {
        stats.by_labels.push_back(
            {json::parse(st.text(0)).get<std::vector<std::string>>(), st.int64(1)});
      }
    }
    {
      auto st =
          db.prepare("SELECT MIN(created_at) FROM jobs WHERE tenant = ? AND state = 'queued'");
      st.bind_all(tenant);
      if (st.step() && !st.is_null(0)) stats.oldest_queued_at = st.int64(0);
    }
    return stats;
  });
}

Result<QueuePosition> SqliteStore::queue_position(const std::string& tenant,
                                                  const std::string& job_id, TimeMs now) {
  return read<QueuePosition>([&](Db& db) -> Result<QueuePosition> {
    int64_t seq = 0, priority = 0;
    {
      auto st = db.prepare("SELECT seq, priority FROM jobs WHERE tenant = ? AND id = ?");
      st.bind_all(tenant, job_id);
      if (!st.step()) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
      seq = st.int64(0);
      priority = st.int64(1);
    }
    auto st = db.prepare(
        "SELECT SUM(priority > ?), SUM(priority = ? AND seq < ?) FROM jobs"
        " WHERE tenant = ? AND state = 'queued' AND not_before <= ? AND priority >= ?");
    st.bind_all(priority, priority, seq, tenant, now, priority);
    QueuePosition pos;
    if (st.step()) {
      pos.higher_priority = st.is_null(0) ? 0 : st.int64(0);
      pos.older = st.is_null(1) ? 0 : st.int64(1);
    }
    return pos;
  });
}

Result<std::vector<Job>> SqliteStore::queued_jobs(const std::string& tenant, int limit) {
  return read<std::vector<Job>>([&](Db& db) -> Result<std::vector<Job>> {
    std::vector<Job> out;
    auto st = db.prepare(
        std::string("SELECT ") + sqlite::kJobColumns +
        " FROM jobs WHERE tenant = ? AND state = 'queued' ORDER BY priority DESC, seq ASC LIMIT ?");
    st.bind_all(tenant, limit);
    while (st.step()) out.push_back(sqlite::job_from_row(st));
    return out;
  });
}

Result<std::vector<FinishedResult>> SqliteStore::agent_results(const std::string& tenant,
                                                               TimeMs since) {
  return read<std::vector<FinishedResult>>([&](Db& db) -> Result<std::vector<FinishedResult>> {
    auto st = db.prepare(
        "SELECT finished_at, result FROM jobs WHERE tenant = ? AND finished_at >= ?"
        " AND result IS NOT NULL AND result LIKE '%\"agent\":%' ORDER BY finished_at");
    st.bind_all(tenant, since);
    std::vector<FinishedResult> out;
    while (st.step()) out.push_back({st.int64(0), st.text(1)});
    return out;
  });
}

Result<JobStats> SqliteStore::job_stats(const std::string& tenant, int hours, TimeMs now) {
  return read<JobStats>([&](Db& db) -> Result<JobStats> {
    constexpr TimeMs kHour = 3'600'000;
    JobStats stats;
    TimeMs first_hour = (now / kHour - (hours - 1)) * kHour;
    for (int i = 0; i < hours; ++i) stats.hours.push_back({first_hour + i * kHour});
    std::vector<TimeMs> waits, runs;
    auto st = db.prepare(
        "SELECT state, created_at, started_at, finished_at FROM jobs"
        " WHERE tenant = ? AND finished_at >= ? AND state IN ('succeeded', 'failed', 'canceled')");
    st.bind_all(tenant, first_hour);
    while (st.step()) {
      std::string state = st.text(0);
      TimeMs created = st.int64(1), started = st.int64(2), finished = st.int64(3);
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

namespace {

// One owner's runnable queued jobs that the runner may take, in priority-then-FIFO order.
// Bounded so one picky runner cannot make a claim scan everything.
std::vector<ClaimCandidate> matching_jobs_of_owner(Db& db, const Runner& runner,
                                                   const std::string& owner, int want, TimeMs now,
                                                   const JobMatcher& matcher) {
  constexpr int kPage = 128;
  constexpr int kMaxScanned = 2048;
  std::vector<ClaimCandidate> out;
  int scanned = 0;
  int64_t after_priority = INT64_MAX, after_seq = 0;
  while (static_cast<int>(out.size()) < want && scanned < kMaxScanned) {
    auto st = db.prepare(
        "SELECT seq, id, priority, labels, grp, type, owner_token_id, spec, attempt, repo_name, "
        "steward_fallback"
        " FROM jobs"
        " WHERE tenant = ? AND state = 'queued' AND owner_token_id = ? AND not_before <= ?"
        " AND (priority < ? OR (priority = ? AND seq > ?))"
        " ORDER BY priority DESC, seq ASC LIMIT ?");
    st.bind_all(runner.tenant, owner, now, after_priority, after_priority, after_seq, kPage);
    int rows = 0;
    while (st.step()) {
      ++rows;
      ++scanned;
      ClaimCandidate c;
      c.job.seq = st.int64(0);
      c.job.id = st.text(1);
      c.job.spec.priority = st.integer(2);
      c.job.spec.labels = json::parse(st.text(3)).get<std::vector<std::string>>();
      c.job.spec.group = st.text(4);
      c.job.spec.type = st.text(5);
      c.job.owner_token_id = st.text(6);
      c.job.tenant = runner.tenant;
      c.job.attempt = st.integer(8);
      c.job.repo_name = st.text(9);
      if (!st.is_null(10)) c.job.spec.steward_fallback = st.integer(10) != 0;
      after_priority = c.job.spec.priority;
      after_seq = c.job.seq;
      if (!matcher(runner, c.job)) continue;
      c.raw_spec = st.text(7);
      out.push_back(std::move(c));
      if (static_cast<int>(out.size()) >= want) break;
    }
    if (rows < kPage) break;
  }
  return out;
}

}  // namespace

Result<std::vector<ClaimedJob>> SqliteStore::claim(const std::string& runner_id, int slots,
                                                   TimeMs now, TimeMs lease_ms,
                                                   const ClaimRule& rule) {
  // One writer, no round trips: the matcher decides here even for a normal() rule.
  const JobMatcher& matcher = rule.matcher;
  return write<std::vector<ClaimedJob>>([&](Db& db) -> Result<std::vector<ClaimedJob>> {
    auto runner = sqlite::load_runner(db, runner_id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
    std::vector<ClaimedJob> claimed;
    int free_slots =
        std::min(slots, runner->reg.max_concurrent_jobs - static_cast<int>(runner->running.size()));
    // A draining runner (told to, or gone away: a claim still parked when it said goodbye)
    // gets nothing.
    if (free_slots <= 0 || runner->draining) return claimed;

    // Fair share (store/fair_share.h).
    std::map<std::string, int64_t> in_flight;
    {
      auto st = db.prepare(
          "SELECT owner_token_id, COUNT(*) FROM jobs WHERE tenant = ?"
          " AND state IN ('leased', 'running') GROUP BY owner_token_id");
      st.bind_all(runner->tenant);
      while (st.step()) in_flight[st.text(0)] = st.int64(1);
    }
    std::map<std::string, int64_t> last_served;
    {
      auto st =
          db.prepare("SELECT owner_token_id, last_claimed_at FROM owner_service WHERE tenant = ?");
      st.bind_all(runner->tenant);
      while (st.step()) last_served[st.text(0)] = st.int64(1);
    }
    std::vector<std::string> owners;
    {
      auto st = db.prepare(
          "SELECT DISTINCT owner_token_id FROM jobs WHERE tenant = ? AND state = 'queued'"
          " AND not_before <= ? LIMIT 1000");
      st.bind_all(runner->tenant, now);
      while (st.step()) owners.push_back(st.text(0));
    }
    std::vector<OwnerQueue> queues;
    for (const auto& owner : owners) {
      auto jobs = matching_jobs_of_owner(db, *runner, owner, free_slots, now, matcher);
      if (!jobs.empty())
        queues.push_back({owner, std::move(jobs), 0, in_flight[owner], last_served[owner]});
    }
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
      int attempt = c.job.attempt + 1;
      db.prepare("UPDATE jobs SET state = 'leased', attempt = ?, updated_at = ? WHERE id = ?")
          .bind_all(attempt, now, c.job.id)
          .exec();
      db.prepare(
            "INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)"
            " VALUES (?, ?, ?, 'leased', ?, ?)")
          .bind_all(c.job.id, attempt, runner_id, now, now + lease_ms)
          .exec();
      auto spec = parse_job_spec(json::parse(c.raw_spec));
      claimed.push_back({c.job.id, attempt, now + lease_ms, spec.ok() ? *spec : JobSpec{}});
      sqlite::load_job_secrets(db, c.job.id, claimed.back().spec);
    }
    if (!claimed.empty()) sqlite::refresh_runner_status(db, runner_id);
    return claimed;
  });
}

Result<Attempt> SqliteStore::start_attempt(const std::string& runner_id, const std::string& job_id,
                                           int attempt, TimeMs now) {
  return write<Attempt>([&](Db& db) -> Result<Attempt> {
    auto active = fenced_attempt(db, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) return attempt_not_active(job_id, attempt, *active);
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
    for (auto& a : sqlite::load_attempts(db, job_id)) {
      if (a.number == attempt) return a;
    }
    return make_error(ErrorCode::kInternal, "attempt vanished");
  });
}

Result<LogAppend> SqliteStore::append_log(const std::string& runner_id, const std::string& job_id,
                                          int attempt, int64_t offset, std::string_view data,
                                          TimeMs now) {
  (void)now;
  return write<LogAppend>([&](Db& db) -> Result<LogAppend> {
    auto active = fenced_attempt(db, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    auto plan = plan_log_append(*active, job_id, attempt, offset, data, options_.log_max_bytes);
    if (!plan.ok()) return plan.error();
    if (!plan->change) return plan->result;
    if (!plan->result.stored.empty()) {
      CORRAL_TRY(log_files_->write_at(job_id, attempt, active->log_size, plan->result.stored));
    }
    db.prepare(
          "UPDATE attempts SET log_size = ?, log_received = ?, log_truncated = ?"
          " WHERE job_id = ? AND attempt = ?")
        .bind_all(plan->new_size, plan->new_received, plan->truncated ? 1 : 0, job_id, attempt)
        .exec();
    return plan->result;
  });
}

Result<Job> SqliteStore::finish_attempt(const std::string& runner_id, const std::string& job_id,
                                        int attempt, const FinishReport& report, TimeMs now) {
  return write<Job>([&](Db& db) -> Result<Job> {
    auto active = fenced_attempt(db, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) {
      // A repeated finish (the runner did not see our first answer) is answered again.
      if (active->state == to_string(report.state)) return *sqlite::load_job(db, "", job_id);
      return attempt_not_active(job_id, attempt, *active);
    }
    auto plan = plan_finish(report, active->cancel_requested, attempt, now, [&] {
      RetryFacts facts{0, sqlite::retry_policy_of(db, job_id)};
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
    sqlite::refresh_runner_status(db, runner_id);
    return *sqlite::load_job(db, "", job_id);
  });
}

Result<void> SqliteStore::put_agent_events(const std::string& runner_id, const std::string& job_id,
                                           int attempt, std::string_view data) {
  return write<void>([&](Db& db) -> Result<void> {
    auto active = fenced_attempt(db, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) return attempt_not_active(job_id, attempt, *active);
    db.prepare("INSERT OR REPLACE INTO attempt_events (job_id, attempt, data) VALUES (?, ?, ?)")
        .bind_all(job_id, attempt)
        .bind_blob(3, data)
        .exec();
    return {};
  });
}

Result<AgentEvents> SqliteStore::read_agent_events(const std::string& tenant,
                                                   const std::string& job_id, int attempt) {
  return read<AgentEvents>([&](Db& db) -> Result<AgentEvents> {
    if (!sqlite::load_job(db, tenant, job_id)) {
      return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
    }
    auto st = db.prepare(
        "SELECT attempt, data FROM attempt_events WHERE job_id = ?"
        " AND (? = 0 OR attempt = ?) ORDER BY attempt DESC LIMIT 1");
    st.bind_all(job_id, attempt, attempt);
    if (!st.step()) return no_agent_events(job_id, attempt);
    return AgentEvents{st.integer(0), st.blob(1)};
  });
}

Result<LogChunk> SqliteStore::read_log(const std::string& tenant, const std::string& job_id,
                                       int attempt, int64_t offset, int64_t max_bytes) {
  return read<LogChunk>([&](Db& db) -> Result<LogChunk> {
    auto job = sqlite::load_job(db, tenant, job_id);
    if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
    LogChunk chunk;
    chunk.offset = offset;
    const Attempt* chosen = nullptr;
    for (const auto& a : job->attempts) {
      if (attempt > 0 ? a.number == attempt : true) chosen = &a;
    }
    if (attempt > 0 && !chosen) {
      return make_error(ErrorCode::kNotFound,
                        "job " + job_id + " has no attempt " + std::to_string(attempt));
    }
    if (!chosen) {
      chunk.complete = is_terminal(job->state);
      return chunk;
    }
    chunk.attempt = chosen->number;
    chunk.size = chosen->log_size;
    chunk.complete =
        chosen->state != AttemptState::kLeased && chosen->state != AttemptState::kRunning;
    chunk.truncated = chosen->log_truncated;
    if (offset >= chosen->log_size) return chunk;
    auto bytes = log_files_->read(job_id, chosen->number, offset,
                                  std::min(max_bytes, chosen->log_size - offset));
    if (!bytes.ok()) return bytes.error();
    chunk.data = std::move(bytes.value());
    return chunk;
  });
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
      if (sqlite::lose_attempt(db, job_id, attempt, now)) sweep.requeued_job_ids.push_back(job_id);
      sqlite::refresh_runner_status(db, runner_id);
    }
    return sweep;
  });
}

Result<std::vector<Job>> SqliteStore::runnable_jobs(TimeMs now, int limit) {
  return read<std::vector<Job>>([&](Db& db) -> Result<std::vector<Job>> {
    std::vector<Job> out;
    auto st = db.prepare(
        "SELECT id, tenant, labels, grp, type, owner_token_id, priority, repo_name, "
        "steward_fallback FROM jobs"
        " WHERE state = 'queued' AND not_before <= ? ORDER BY not_before LIMIT ?");
    st.bind_all(now, limit);
    while (st.step()) {
      Job job;
      job.id = st.text(0);
      job.tenant = st.text(1);
      job.spec.labels = json::parse(st.text(2)).get<std::vector<std::string>>();
      job.spec.group = st.text(3);
      job.spec.type = st.text(4);
      job.owner_token_id = st.text(5);
      job.spec.priority = st.integer(6);
      job.repo_name = st.text(7);
      if (!st.is_null(8)) job.spec.steward_fallback = st.integer(8) != 0;
      out.push_back(std::move(job));
    }
    return out;
  });
}

}  // namespace corral

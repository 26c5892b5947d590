// The transaction steps both stores share, written once over either backend's connection
// (sqlite::Db, pg::Connection): `c.query(sql, args...)` with PostgreSQL's "$1" parameters
// (SQLite runs them as "?1") returns rows with one interface, and Conn::kLockRows is what a
// SELECT appends to lock the rows it read (" FOR UPDATE" in PostgreSQL; nothing in SQLite,
// whose one writer needs no row locks).
#pragma once

#include <algorithm>
#include <climits>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/attempt_rules.h"
#include "store/fair_share.h"
#include "store/shared_sql.h"
#include "store/store.h"

namespace corral {

// " FOR UPDATE" plus `of` ("OF a") where the backend locks rows, else nothing.
template <typename Conn>
std::string lock_rows(const char* of = "") {
  std::string lock = Conn::kLockRows;
  if (!lock.empty() && *of) lock += std::string(" ") + of;
  return lock;
}

template <typename Conn>
std::vector<Attempt> load_attempts(Conn& c, const std::string& job_id) {
  auto rows = c.query(std::string("SELECT ") + kAttemptColumns +
                          " FROM attempts a LEFT JOIN runners r ON r.id = a.runner_id"
                          " WHERE a.job_id = $1 ORDER BY a.attempt",
                      job_id);
  std::vector<Attempt> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(attempt_from_row(rows[i]));
  return out;
}

// A job with its attempts; nullopt when there is none with that id (and tenant, unless
// tenant is empty).
template <typename Conn>
std::optional<Job> load_job(Conn& c, const std::string& tenant, const std::string& id) {
  auto rows = c.query(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  Job job = job_from_row(rows.front());
  if (!tenant.empty() && job.tenant != tenant) return std::nullopt;
  job.attempts = load_attempts(c, id);
  return job;
}

// The runner's status from what it runs: offline and draining stick; busy when it runs
// anything.
template <typename Conn>
void refresh_runner_status(Conn& c, const std::string& runner_id) {
  c.query(
      "UPDATE runners SET status = CASE"
      "  WHEN status = 'offline' THEN 'offline'"
      "  WHEN draining = 1 THEN 'draining'"
      "  WHEN EXISTS (SELECT 1 FROM attempts WHERE runner_id = runners.id"
      "               AND state IN ('leased', 'running')) THEN 'busy'"
      "  ELSE 'idle' END"
      " WHERE id = $1",
      runner_id);
}

// The job's retry policy (the defaults when its spec cannot be read).
template <typename Conn>
RetryPolicy retry_policy_of(Conn& c, const std::string& job_id) {
  auto rows = c.query("SELECT spec FROM jobs WHERE id = $1", job_id);
  return retry_policy_of_spec(rows.empty() ? std::string() : rows.front().text(0));
}

// Fills in the values of the secrets `spec` names (job_secrets), for a claim answer.
template <typename Conn>
void load_job_secrets(Conn& c, const std::string& job_id, JobSpec& spec) {
  if (spec.secrets.empty()) return;
  auto rows = c.query("SELECT name, value FROM job_secrets WHERE job_id = $1", job_id);
  for (int i = 0; i < rows.size(); ++i) {
    auto it = spec.secrets.find(rows[i].text(0));
    if (it != spec.secrets.end()) it->second = rows[i].text(1);
  }
}

// The attempts the runner holds (leased or running), locked in one order.
template <typename Conn>
std::vector<std::pair<std::string, int>> held_attempts(Conn& c, const std::string& runner_id) {
  auto rows = c.query(
      "SELECT job_id, attempt FROM attempts WHERE runner_id = $1 AND state IN ('leased', "
      "'running') ORDER BY job_id, attempt" +
          lock_rows<Conn>(),
      runner_id);
  std::vector<std::pair<std::string, int>> held;
  for (int i = 0; i < rows.size(); ++i) held.emplace_back(rows[i].text(0), rows[i].integer(1));
  return held;
}

// The attempt's runner is gone: the attempt becomes lost and, if it is the job's current
// one, the job is queued again (attempts left), canceled (cancel was requested) or failed
// with reason runner_lost. Returns true when the job went back to the queue.
template <typename Conn>
bool lose_attempt(Conn& c, const std::string& job_id, int attempt, int64_t now) {
  c.query(
      "UPDATE attempts SET state = 'lost', reason = 'runner_lost', finished_at = $1"
      " WHERE job_id = $2 AND attempt = $3 AND state IN ('leased', 'running')",
      now, job_id, attempt);
  // The job row is locked so a concurrent finish or cancel on another server waits.
  auto rows =
      c.query("SELECT state, attempt, max_attempts, cancel_requested FROM jobs WHERE id = $1" +
                  lock_rows<Conn>(),
              job_id);
  if (rows.empty()) return false;
  std::string state = rows.front().text(0);
  int current = rows.front().integer(1);
  int max_attempts = rows.front().integer(2);
  bool cancel_requested = rows.front().integer(3) != 0;
  if (current != attempt || (state != "leased" && state != "running")) return false;
  const char* end =
      "UPDATE jobs SET state = $1, reason = $1, finished_at = $2, updated_at = $2 WHERE id = $3";
  if (cancel_requested) {
    c.query(end, std::string("canceled"), now, job_id);
    return false;
  }
  // A lost attempt is retried at once: the job did nothing wrong, another runner can take it.
  if (current < max_attempts && retry_policy_of(c, job_id).retries(FailureReason::kRunnerLost)) {
    c.query("UPDATE jobs SET state = 'queued', not_before = $1, updated_at = $1 WHERE id = $2", now,
            job_id);
    return true;
  }
  c.query(
      "UPDATE jobs SET state = 'failed', reason = 'runner_lost', finished_at = $1, updated_at = $1"
      " WHERE id = $2",
      now, job_id);
  return false;
}

// Everything the runner held goes back to the queue now (lose_attempt on each); returns
// the jobs that were requeued.
template <typename Conn>
std::vector<std::string> lose_runner_attempts(Conn& c, const std::string& runner_id, int64_t now) {
  std::vector<std::string> requeued;
  for (const auto& [job_id, attempt] : held_attempts(c, runner_id)) {
    if (lose_attempt(c, job_id, attempt, now)) requeued.push_back(job_id);
  }
  return requeued;
}

// The tenant's mapping of the repository "owner/name".
template <typename Conn>
std::optional<RepoMapping> load_repo(Conn& c, const std::string& tenant,
                                     const std::string& full_name) {
  auto rows =
      c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 AND full_name = $2",
              tenant, full_name);
  if (rows.empty()) return std::nullopt;
  return repo_from_row(rows.front());
}

// A schedule by id or name (the id wins when one's name is another's id).
template <typename Conn>
std::optional<Schedule> load_schedule(Conn& c, const std::string& tenant,
                                      const std::string& id_or_name) {
  auto rows = c.query(std::string("SELECT ") + kScheduleColumns +
                          " FROM schedules WHERE tenant = $1 AND (id = $2 OR name = $2) ORDER BY "
                          "(id = $2) DESC LIMIT 1",
                      tenant, id_or_name);
  if (rows.empty()) return std::nullopt;
  return schedule_from_row(rows.front());
}

// The columns a fence check reads (attempts a JOIN jobs j), named so a CTE can carry them,
// and the check of a row of them beginning at column `first` (NULL there: no such attempt).
inline constexpr const char* kFenceColumns =
    "a.runner_id, a.state AS attempt_state, a.log_size, j.attempt AS job_attempt, "
    "j.cancel_requested, j.state AS job_state, a.log_received, a.log_truncated";
inline constexpr int kFenceColumnCount = 8;

template <typename Row>
Result<AttemptFence> fence_of(const Row& row, int first, const std::string& runner_id,
                              const std::string& job_id, int attempt) {
  std::optional<AttemptFence> found;
  if (!row.is_null(first)) {
    found.emplace();
    read_columns(row, first, found->runner_id, found->state, found->log_size, found->job_attempt,
                 found->cancel_requested, found->job_state, found->log_received,
                 found->log_truncated);
  }
  return check_fence(found, runner_id, job_id, attempt);
}

// The fencing check every runner call about an attempt goes through (store/attempt_rules.h).
// In PostgreSQL it locks the attempt and its job until the transaction ends, so runner calls
// about one attempt, cancels and lease sweeps on any server take turns.
template <typename Conn>
Result<AttemptFence> fenced_attempt(Conn& c, const std::string& runner_id,
                                    const std::string& job_id, int attempt) {
  auto rows = c.query(std::string("SELECT ") + kFenceColumns +
                          " FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1"
                          " AND a.attempt = $2" +
                          lock_rows<Conn>(),
                      job_id, attempt);
  if (rows.empty()) return attempt_missing(job_id, attempt);
  return fence_of(rows.front(), 0, runner_id, job_id, attempt);
}

// The fence of an attempt that a runner call may still change: its conflict when the
// attempt is no longer active.
template <typename Conn>
Result<AttemptFence> active_attempt(Conn& c, const std::string& runner_id,
                                    const std::string& job_id, int attempt) {
  auto fence = fenced_attempt(c, runner_id, job_id, attempt);
  if (fence.ok() && !fence->active()) return attempt_not_active(job_id, attempt, *fence);
  return fence;
}

// Store::append_log's steps: the fence, the plan (attempt_rules.h), the new bytes written by
// write_bytes(at, bytes) (to a file, or a log_chunks row), and the attempt's new sizes.
template <typename Conn, typename WriteBytes>
Result<LogAppend> append_log_in(Conn& c, const std::string& runner_id, const std::string& job_id,
                                int attempt, int64_t offset, std::string_view data, int64_t cap,
                                WriteBytes write_bytes) {
  auto fence = fenced_attempt(c, runner_id, job_id, attempt);
  if (!fence.ok()) return fence.error();
  auto plan = plan_log_append(*fence, job_id, attempt, offset, data, cap);
  if (!plan.ok()) return plan.error();
  if (!plan->change) return plan->result;
  if (!plan->result.stored.empty()) {
    Result<void> written = write_bytes(fence->log_size, plan->result.stored);
    if (!written.ok()) return written.error();
  }
  c.query(
      "UPDATE attempts SET log_size = $1, log_received = $2, log_truncated = $3"
      " WHERE job_id = $4 AND attempt = $5",
      plan->new_size, plan->new_received, plan->truncated, job_id, attempt);
  return plan->result;
}

// fn(row) on each row of the query until it returns false; returns the rows seen. SQLite
// steps through its statement (a claim's scan may stop early); PostgreSQL's rows are here.
template <typename Conn, typename Fn, typename... Args>
int each_row(Conn& c, const std::string& sql, Fn&& fn, const Args&... args) {
  if constexpr (requires { c.each(sql, fn, args...); }) {
    return c.each(sql, fn, args...);
  } else {
    auto rows = c.query(sql, args...);
    for (int i = 0; i < rows.size(); ++i) {
      if (!fn(rows[i])) return i + 1;
    }
    return rows.size();
  }
}

// How many of the tenant's jobs are in one state, group and labels (the JSON text): what the
// job_counts triggers keep (migration 15/16), with the changes PostgreSQL has not folded in
// yet. A few rows per tenant, however many jobs it has.
struct JobCount {
  std::string state, group, labels_json;
  int64_t n = 0;
};

template <typename Conn>
std::vector<JobCount> job_counts(Conn& c, const std::string& tenant) {
  auto rows = c.query(
      "SELECT state, grp, labels, CAST(SUM(n) AS BIGINT) FROM ("
      "  SELECT state, grp, labels, n FROM job_counts WHERE tenant = $1"
      "  UNION ALL SELECT state, grp, labels, delta FROM job_count_changes WHERE tenant = $1) c"
      " GROUP BY state, grp, labels HAVING SUM(n) <> 0 ORDER BY state, grp, labels",
      tenant);
  std::vector<JobCount> out;
  for (int i = 0; i < rows.size(); ++i)
    out.push_back({rows[i].text(0), rows[i].text(1), rows[i].text(2), rows[i].int64(3)});
  return out;
}

// The tenant's jobs not yet finished (queued, leased, running), from the counts above.
template <typename Conn>
int64_t unfinished_jobs(Conn& c, const std::string& tenant) {
  int64_t unfinished = 0;
  for (const auto& count : job_counts(c, tenant)) {
    if (count.state == "queued" || count.state == "leased" || count.state == "running")
      unfinished += count.n;
  }
  return unfinished;
}

// Refuses `adding` new jobs that would give the tenant more than max_unfinished unfinished
// ones (Store::create_job): kTooManyRequests with {"unfinished": n} for the server to word.
template <typename Conn>
Result<void> within_unfinished_cap(Conn& c, const std::string& tenant, int64_t adding,
                                   int64_t max_unfinished) {
  if (adding == 0 || max_unfinished == kNoJobCap) return {};
  int64_t unfinished = unfinished_jobs(c, tenant);
  if (unfinished + adding <= max_unfinished) return {};
  Error refused = make_error(ErrorCode::kTooManyRequests,
                             "tenant '" + tenant + "' has " + std::to_string(unfinished) +
                                 " unfinished jobs, the cap is " + std::to_string(max_unfinished));
  refused.detail_json = json{{"unfinished", unfinished}}.dump();
  return refused;
}

// What a claim's prefilter reads of a job (ClaimRule::prefilter): its labels (the column's
// JSON text, sorted), group and type. The queue is read shape by shape, and then submitter
// by submitter within a shape, so jobs a runner may not take cost it nothing however many
// are queued.
struct QueueShape {
  std::string group, type, labels_json;
  std::vector<std::string> labels;  // labels_json, parsed once for every job of the shape
};

// The shapes of the tenant's queued jobs: a few index seeks each on jobs_waiting_by_shape (a loose
// index scan), however many jobs share one. The next shape after one is sought column by
// column: SQLite seeks a row-value comparison such as (grp, type, labels) > (...) by its
// first column only, which would read every job of the shapes in that group.
template <typename Conn>
std::vector<QueueShape> queued_shapes(Conn& c, const std::string& tenant) {
  constexpr const char* kSelect =
      "SELECT grp, type, labels FROM jobs WHERE tenant = $1 AND state = 'queued'";
  constexpr const char* kOrder = " ORDER BY grp, type, labels LIMIT 1";
  std::vector<QueueShape> shapes;
  auto add = [&](const auto& rows) {
    if (rows.empty()) return false;
    std::string labels_json = rows.front().text(2);
    auto labels = json::parse(labels_json).template get<std::vector<std::string>>();
    shapes.push_back(
        {rows.front().text(0), rows.front().text(1), std::move(labels_json), std::move(labels)});
    return true;
  };
  if (!add(c.query(std::string(kSelect) + kOrder, tenant))) return shapes;
  for (;;) {
    QueueShape last = shapes.back();
    if (add(c.query(std::string(kSelect) + " AND grp = $2 AND type = $3 AND labels > $4" + kOrder,
                    tenant, last.group, last.type, last.labels_json)) ||
        add(c.query(std::string(kSelect) + " AND grp = $2 AND type > $3" + kOrder, tenant,
                    last.group, last.type)) ||
        add(c.query(std::string(kSelect) + " AND grp > $2" + kOrder, tenant, last.group))) {
      continue;
    }
    return shapes;
  }
}

// The submitters with queued jobs of the shape, one index seek each.
template <typename Conn>
std::vector<std::string> owners_of_shape(Conn& c, const std::string& tenant,
                                         const QueueShape& shape) {
  constexpr const char* kSelect =
      "SELECT owner_token_id FROM jobs WHERE tenant = $1 AND state = 'queued' AND grp = $2"
      " AND type = $3 AND labels = $4";
  constexpr const char* kOrder = " ORDER BY owner_token_id LIMIT 1";
  std::vector<std::string> owners;
  for (;;) {
    // The first, then each after the last (an owner id may be anything, even empty).
    auto rows = owners.empty()
                    ? c.query(std::string(kSelect) + kOrder, tenant, shape.group, shape.type,
                              shape.labels_json)
                    : c.query(std::string(kSelect) + " AND owner_token_id > $5" + kOrder, tenant,
                              shape.group, shape.type, shape.labels_json, owners.back());
    if (rows.empty()) return owners;
    owners.push_back(rows.front().text(0));
  }
}

// A stand-in for the jobs of one shape and submitter, for the prefilter.
inline Job shape_job(const std::string& tenant, const QueueShape& shape, const std::string& owner) {
  Job job;
  job.tenant = tenant;
  job.spec.labels = shape.labels;
  job.spec.group = shape.group;
  job.spec.type = shape.type;
  job.owner_token_id = owner;
  return job;
}

// One submitter's runnable queued jobs of one shape that the runner may take (matcher), in
// priority-then-FIFO order, at most `want`, read without locks (PostgreSQL's claim locks the
// ones it picks).
template <typename Conn>
std::vector<ClaimCandidate> matching_jobs_of(Conn& c, const Runner& runner, const QueueShape& shape,
                                             const std::string& owner, int want, TimeMs now,
                                             const JobMatcher& matcher) {
  constexpr int kPage = 128;
  std::vector<ClaimCandidate> out;
  int64_t after_priority = INT64_MAX, after_seq = 0;
  for (;;) {
    int rows = each_row(
        c,
        "SELECT seq, id, priority, repo_name, spec, attempt, steward_fallback FROM jobs"
        " WHERE tenant = $1 AND state = 'queued' AND grp = $2 AND type = $3 AND labels = $4"
        " AND owner_token_id = $5 AND not_before <= $6 AND (priority < CAST($7 AS BIGINT) OR"
        " (priority = CAST($7 AS BIGINT) AND seq > $8)) ORDER BY priority DESC, seq ASC LIMIT $9",
        [&](const auto& row) {
          ClaimCandidate cand;
          cand.job = shape_job(runner.tenant, shape, owner);
          read_columns(row, 0, cand.job.seq, cand.job.id, cand.job.spec.priority,
                       cand.job.repo_name);
          read_columns(row, 5, cand.job.attempt);
          if (!row.is_null(6)) cand.job.spec.steward_fallback = row.integer(6) != 0;
          after_priority = cand.job.spec.priority;
          after_seq = cand.job.seq;
          if (!matcher(runner, cand.job)) return true;
          cand.raw_spec = row.text(4);
          out.push_back(std::move(cand));
          return static_cast<int>(out.size()) < want;
        },
        runner.tenant, shape.group, shape.type, shape.labels_json, owner, now, after_priority,
        after_seq, kPage);
    if (rows < kPage || static_cast<int>(out.size()) >= want) return out;
  }
}

// How many jobs a claim of `slots` may lease to the runner: none when it is draining (told
// to, or gone away: a claim still parked when it said goodbye) or full.
inline int claim_free_slots(const Runner& runner, int slots) {
  int free_slots =
      std::min(slots, runner.reg.max_concurrent_jobs - static_cast<int>(runner.running.size()));
  return runner.draining ? 0 : std::max(free_slots, 0);
}

// Fair share's input (store/fair_share.h): each submitter with queued jobs the runner may
// take, with its first `want` such jobs, its jobs in flight and when it was last served.
// Shapes and submitters the rule's prefilter turns down are skipped unread.
template <typename Conn>
std::vector<OwnerQueue> owner_queues(Conn& c, const Runner& runner, int want, TimeMs now,
                                     const ClaimRule& rule) {
  auto by_queue_order = [](const ClaimCandidate& a, const ClaimCandidate& b) {
    return a.job.spec.priority != b.job.spec.priority ? a.job.spec.priority > b.job.spec.priority
                                                      : a.job.seq < b.job.seq;
  };
  std::map<std::string, std::vector<ClaimCandidate>> candidates;  // by owner
  for (const auto& shape : queued_shapes(c, runner.tenant)) {
    if (rule.prefilter &&
        !rule.prefilter(runner, shape_job(runner.tenant, shape, runner.owner_token_id))) {
      continue;  // no submitter's jobs of this shape (as if the runner's owner's) will do
    }
    for (const auto& owner : owners_of_shape(c, runner.tenant, shape)) {
      if (rule.prefilter && !rule.prefilter(runner, shape_job(runner.tenant, shape, owner)))
        continue;
      auto jobs = matching_jobs_of(c, runner, shape, owner, want, now, rule.matcher);
      if (jobs.empty()) continue;
      auto& mine = candidates[owner];
      mine.insert(mine.end(), std::make_move_iterator(jobs.begin()),
                  std::make_move_iterator(jobs.end()));
      std::sort(mine.begin(), mine.end(), by_queue_order);
      if (static_cast<int>(mine.size()) > want) mine.resize(want);
    }
  }
  std::vector<OwnerQueue> queues;
  if (candidates.empty()) return queues;
  std::map<std::string, int64_t> last_served;
  auto served = c.query(
      "SELECT owner_token_id, last_claimed_at FROM owner_service WHERE tenant = $1", runner.tenant);
  for (int i = 0; i < served.size(); ++i) last_served[served[i].text(0)] = served[i].int64(1);
  for (auto& [owner, jobs] : candidates) {
    auto flying = c.query(
        "SELECT COUNT(*) FROM jobs WHERE tenant = $1 AND state IN ('leased', 'running')"
        " AND owner_token_id = $2",
        runner.tenant, owner);
    queues.push_back({owner, std::move(jobs), 0, flying.front().int64(0), last_served[owner]});
  }
  return queues;
}

// The candidate's next attempt, leased to the runner until now + lease_ms: the answer the
// claim gives for it, with its secrets' values.
template <typename Conn>
ClaimedJob lease_job(Conn& c, const ClaimCandidate& cand, int attempt, const std::string& runner_id,
                     TimeMs now, TimeMs lease_ms) {
  c.query("UPDATE jobs SET state = 'leased', attempt = $1, updated_at = $2 WHERE id = $3", attempt,
          now, cand.job.id);
  c.query(
      "INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)"
      " VALUES ($1, $2, $3, 'leased', $4, $5)",
      cand.job.id, attempt, runner_id, now, now + lease_ms);
  ClaimedJob claimed{cand.job.id, attempt, now + lease_ms, job_spec_of(cand.raw_spec)};
  load_job_secrets(c, cand.job.id, claimed.spec);
  return claimed;
}

// The schedule by id or name, or the error that names it.
template <typename Conn>
Result<Schedule> schedule_named(Conn& c, const std::string& tenant, const std::string& id_or_name) {
  auto s = load_schedule(c, tenant, id_or_name);
  if (!s) return no_schedule(id_or_name);
  return *s;
}

// What each row of a query's rows maps to, by `from_row`.
template <typename Rows, typename FromRow>
auto all_rows(const Rows& rows, FromRow from_row) {
  std::vector<decltype(from_row(rows.front()))> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(from_row(rows[i]));
  return out;
}

}  // namespace corral

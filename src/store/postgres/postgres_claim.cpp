// PostgresStore: claims, the attempt lifecycle (start, finish) and lease expiry.
#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include "store/attempt_rules.h"
#include "store/fair_share.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

Result<std::vector<ClaimedJob>> PostgresStore::claim_by_normal_rule(const std::string& runner_id,
                                                                    int slots, TimeMs now,
                                                                    TimeMs lease_ms,
                                                                    TimeMs fresh_since) {
  return run<std::vector<ClaimedJob>>([&](Connection& c) -> Result<std::vector<ClaimedJob>> {
    auto rows = c.query(
        "SELECT job_id, attempt, spec FROM corral_claim($1, $2::integer, $3::bigint, $4::bigint, "
        "$5::bigint)",
        runner_id, slots, now, lease_ms, fresh_since);
    std::vector<ClaimedJob> claimed;
    for (int i = 0; i < rows.size(); ++i) {
      auto row = rows[i];
      if (row.is_null(0)) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
      auto spec = parse_job_spec(json::parse(row.text(2), nullptr, false));
      claimed.push_back(
          {row.text(0), row.integer(1), now + lease_ms, spec.ok() ? *spec : JobSpec{}});
    }
    // After the claim's own statement: a job that ends meanwhile has no secrets left to send.
    for (auto& job : claimed) load_job_secrets(c, job.job_id, job.spec);
    return claimed;
  });
}

Result<std::vector<ClaimedJob>> PostgresStore::claim(const std::string& runner_id, int slots,
                                                     TimeMs now, TimeMs lease_ms,
                                                     const ClaimRule& rule) {
  if (rule.normal_fresh_since)
    return claim_by_normal_rule(runner_id, slots, now, lease_ms, *rule.normal_fresh_since);
  // Any other rule: the matcher decides, candidate by candidate, inside one transaction.
  return tx<std::vector<ClaimedJob>>([&](Connection& c) -> Result<std::vector<ClaimedJob>> {
    // The runner's row is locked: two claims of one runner (on two servers) take turns, so
    // together they never exceed its max_concurrent_jobs.
    if (c.query("SELECT 1 FROM runners WHERE id = $1 FOR UPDATE", runner_id).empty()) {
      return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
    }
    auto runner = pg::load_runner(c, runner_id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
    std::vector<ClaimedJob> claimed;
    int free_slots = claim_free_slots(*runner, slots);
    if (free_slots == 0) return claimed;
    // A few spare candidates per owner: another server may lock some of them first.
    constexpr int kSpare = 4;
    auto queues = owner_queues(c, *runner, free_slots + kSpare, now, rule);
    std::set<std::string> served;
    while (static_cast<int>(claimed.size()) < free_slots) {
      OwnerQueue* best = next_owner_queue(queues);
      if (!best) break;
      const ClaimCandidate& cand = best->jobs[best->next++];
      // The lease itself: lock the row unless another claim holds it, and re-check that it
      // is still queued (a claim on another server may have committed since we read it).
      auto locked = c.query(
          "SELECT attempt FROM jobs WHERE id = $1 AND state = 'queued' AND not_before <= $2"
          " FOR UPDATE SKIP LOCKED",
          cand.job.id, now);
      if (locked.empty()) continue;  // not taken: the owner's count stays as it was
      ++best->in_flight;
      best->last_served = now;
      served.insert(best->owner);
      claimed.push_back(
          lease_job(c, cand, locked.front().integer(0) + 1, runner_id, now, lease_ms));
    }
    // Once per owner, in name order: concurrent claims lock these rows in one order.
    for (const auto& owner : served) {
      c.query(
          "INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at) VALUES ($1, $2, $3)"
          " ON CONFLICT (tenant, owner_token_id) DO UPDATE SET last_claimed_at = "
          "excluded.last_claimed_at",
          runner->tenant, owner, now);
    }
    if (!claimed.empty()) refresh_runner_status(c, runner_id);
    return claimed;
  });
}

namespace {

// One statement: lock the attempt and its job, check the fence, and start the attempt if it
// is this runner's current one and leased. The attempt as updated comes first in the row,
// then the fence as it was found under the lock.
Result<Attempt> start_in(Connection& c, const std::string& runner_id, const std::string& job_id,
                         int attempt, TimeMs now) {
  auto rows = c.query(
      std::string("WITH f AS (SELECT ") + kFenceColumns +
          " FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1 AND a.attempt = "
          "$2 FOR UPDATE),"
          " started AS (UPDATE attempts SET state = 'running', started_at = $4"
          "   WHERE job_id = $1 AND attempt = $2 AND EXISTS (SELECT 1 FROM f"
          "     WHERE f.runner_id = $3 AND f.job_attempt = $2 AND f.attempt_state = 'leased')"
          "   RETURNING " +
          pg::kAttemptReturning +
          "),"
          " job AS (UPDATE jobs SET state = 'running', updated_at = $4,"
          "   started_at = CASE WHEN started_at = 0 THEN $4 ELSE started_at END"
          "   WHERE id = $1 AND EXISTS (SELECT 1 FROM started))"
          " SELECT started.*, f.* FROM (SELECT 1) one LEFT JOIN f ON true LEFT JOIN started ON "
          "true",
      job_id, attempt, runner_id, now);
  auto row = rows.front();
  auto fence = fence_of(row, pg::kAttemptColumnCount, runner_id, job_id, attempt);
  if (!fence.ok()) return fence.error();
  if (!row.is_null(0)) return attempt_from_row(row);
  if (!fence->active()) return attempt_not_active(job_id, attempt, *fence);
  // Started before (a repeated start): answered with the attempt as it is.
  for (auto& a : load_attempts(c, job_id)) {
    if (a.number == attempt) return a;
  }
  return make_error(ErrorCode::kInternal, "attempt vanished");
}

Result<Job> finished_job(Connection& c, const std::string& job_id) {
  auto job = load_job(c, "", job_id);
  if (!job) return make_error(ErrorCode::kNotFound, "no job with id " + job_id);
  return std::move(*job);
}

// Two statements: read what the outcome depends on, decide here (the retry policy is C++),
// then apply the decision in one statement that locks the attempt and its job and acts only
// if what the decision was based on still holds. If it changed in between (a cancel, a lease
// sweep), decide again.
Result<Job> finish_in(Connection& c, const std::string& runner_id, const std::string& job_id,
                      int attempt, const FinishReport& report, TimeMs now) {
  constexpr int kTries = 5;
  for (int tries = 0; tries < kTries; ++tries) {
    struct Seen {
      AttemptFence fence;
      std::string spec;
      int max_attempts = 0;
    };
    auto seen = [&]() -> Result<Seen> {
      auto rows =
          c.query(std::string("SELECT ") + kFenceColumns +
                      ", j.spec, j.max_attempts FROM attempts a JOIN jobs j ON j.id = a.job_id"
                      " WHERE a.job_id = $1 AND a.attempt = $2",
                  job_id, attempt);
      if (rows.empty()) return attempt_missing(job_id, attempt);
      auto fence = fence_of(rows.front(), 0, runner_id, job_id, attempt);
      if (!fence.ok()) return fence.error();
      return Seen{*fence, rows.front().text(kFenceColumnCount),
                  rows.front().integer(kFenceColumnCount + 1)};
    }();
    if (!seen.ok()) return seen.error();
    const auto& fence = seen->fence;
    if (!fence.active()) {
      // A repeated finish (the runner did not see our first answer) is answered again.
      if (fence.state == to_string(report.state)) return finished_job(c, job_id);
      return attempt_not_active(job_id, attempt, fence);
    }

    auto plan = plan_finish(report, fence.cancel_requested, attempt, now, [&] {
      auto spec = parse_job_spec(json::parse(seen->spec, nullptr, false));
      return RetryFacts{seen->max_attempts, spec.ok() ? spec->retry : RetryPolicy{}};
    });

    auto applied = [&]() -> Result<bool> {
      auto rows = c.query(
          "WITH f AS (SELECT 1 FROM attempts a JOIN jobs j ON j.id = a.job_id"
          "   WHERE a.job_id = $1 AND a.attempt = $2 AND a.runner_id = $3 AND j.attempt = $2"
          "   AND a.state IN ('leased', 'running') AND j.cancel_requested = $4 FOR UPDATE),"
          " fa AS (UPDATE attempts SET state = $5, exit_code = $6, reason = $7, finished_at = $8"
          "   WHERE job_id = $1 AND attempt = $2 AND EXISTS (SELECT 1 FROM f) RETURNING job_id),"
          " fj AS (UPDATE jobs SET state = $9, exit_code = $6, reason = $10, updated_at = $8,"
          "   not_before = CASE WHEN $11::integer = 1 THEN $12::bigint ELSE not_before END,"
          "   result = CASE WHEN $11::integer = 1 THEN result ELSE $13 END,"
          "   finished_at = CASE WHEN $11::integer = 1 THEN finished_at ELSE $8 END"
          "   WHERE id = $1 AND EXISTS (SELECT 1 FROM fa)),"
          // What else the runner runs; this attempt's own change is not visible here.
          " fr AS (UPDATE runners SET status = CASE WHEN status = 'offline' THEN 'offline'"
          "   WHEN draining = 1 THEN 'draining'"
          "   WHEN EXISTS (SELECT 1 FROM attempts o WHERE o.runner_id = runners.id"
          "     AND o.state IN ('leased', 'running') AND NOT (o.job_id = $1 AND o.attempt = $2)) "
          "THEN 'busy'"
          "   ELSE 'idle' END WHERE id = $3 AND EXISTS (SELECT 1 FROM fa))"
          " SELECT COUNT(*) FROM fa",
          job_id, attempt, runner_id, fence.cancel_requested, plan.attempt_state, report.exit_code,
          plan.attempt_reason, now, plan.job_state, plan.job_reason, plan.retry, plan.not_before,
          plan.result);
      return rows.front().int64(0) == 1;
    }();
    if (!applied.ok()) return applied.error();
    if (*applied) return finished_job(c, job_id);
  }
  return make_error(ErrorCode::kUnavailable,
                    "attempt " + std::to_string(attempt) + " of job " + job_id +
                        " kept changing while it was finished; send the finish again");
}

}  // namespace

Result<Attempt> PostgresStore::start_attempt(const std::string& runner_id,
                                             const std::string& job_id, int attempt, TimeMs now) {
  return run<Attempt>([&](Connection& c) { return start_in(c, runner_id, job_id, attempt, now); });
}

Result<Job> PostgresStore::finish_attempt(const std::string& runner_id, const std::string& job_id,
                                          int attempt, const FinishReport& report, TimeMs now) {
  // Outside a transaction: each of finish_in's statements commits by itself.
  return run<Job>(
      [&](Connection& c) { return finish_in(c, runner_id, job_id, attempt, report, now); });
}

namespace {

// fn(item) for each item in one transaction, results in order. An item's refusal (a Result)
// leaves the others alone; a database error fails them all (nothing is kept), and a deadlock
// runs the whole batch again (Pool::transaction).
template <typename T, typename Item, typename F>
std::vector<Result<T>> in_one_transaction(pg::Pool& pool, const std::vector<Item>& items, F fn) {
  auto done = pool.transaction<std::vector<Result<T>>>(
      [&](Connection& c) -> Result<std::vector<Result<T>>> {
        std::vector<Result<T>> out;
        out.reserve(items.size());
        for (const auto& item : items) out.push_back(fn(c, item));
        return out;
      });
  if (done.ok()) return std::move(done.value());
  return std::vector<Result<T>>(items.size(), done.error());
}

}  // namespace

std::vector<Result<Attempt>> PostgresStore::start_attempts(const std::string& runner_id,
                                                           const std::vector<AttemptRef>& attempts,
                                                           TimeMs now) {
  return in_one_transaction<Attempt>(pool_, attempts, [&](Connection& c, const AttemptRef& a) {
    return start_in(c, runner_id, a.job_id, a.attempt, now);
  });
}

std::vector<Result<Job>> PostgresStore::finish_attempts(const std::string& runner_id,
                                                        const std::vector<AttemptFinish>& finishes,
                                                        TimeMs now) {
  return in_one_transaction<Job>(pool_, finishes, [&](Connection& c, const AttemptFinish& f) {
    return finish_in(c, runner_id, f.job_id, f.attempt, f.report, now);
  });
}

Result<void> PostgresStore::fold_job_counts() {
  // Any fixed number: the advisory lock of the fold, so servers fold one at a time (two
  // folds could otherwise update the same counts in different orders and deadlock).
  constexpr int64_t kFoldLock = 0x636f7272616c01;
  return tx<void>([&](Connection& c) -> Result<void> {
    if (!c.query("SELECT pg_try_advisory_xact_lock($1::bigint)", kFoldLock).front().boolean(0))
      return {};  // another server is folding now
    c.query(
        "WITH moved AS (DELETE FROM job_count_changes WHERE id IN (SELECT id FROM"
        " job_count_changes ORDER BY id LIMIT 100000) RETURNING tenant, state, grp, labels, delta)"
        " INSERT INTO job_counts (tenant, state, grp, labels, n) SELECT tenant, state, grp,"
        " labels, SUM(delta) FROM moved GROUP BY tenant, state, grp, labels"
        " ON CONFLICT (tenant, state, grp, labels) DO UPDATE SET n = job_counts.n + excluded.n");
    return {};
  });
}

Result<LeaseSweep> PostgresStore::expire_leases(TimeMs now) {
  return tx<LeaseSweep>([&](Connection& c) -> Result<LeaseSweep> {
    // SKIP LOCKED: an attempt another server's sweep (or a renewal) holds is theirs; once
    // they commit it is either lost already or renewed, so each expiry happens once.
    auto rows = c.query(
        "SELECT job_id, attempt, runner_id FROM attempts"
        " WHERE state IN ('leased', 'running') AND lease_expires_at < $1"
        " ORDER BY job_id, attempt FOR UPDATE SKIP LOCKED",
        now);
    LeaseSweep sweep;
    std::set<std::string> runners;
    for (int i = 0; i < rows.size(); ++i) {
      std::string job_id = rows[i].text(0);
      ++sweep.lost_attempts;
      if (lose_attempt(c, job_id, rows[i].integer(1), now))
        sweep.requeued_job_ids.push_back(job_id);
      runners.insert(rows[i].text(2));
    }
    for (const auto& runner_id : runners) refresh_runner_status(c, runner_id);
    return sweep;
  });
}

}  // namespace corral

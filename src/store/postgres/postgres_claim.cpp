// PostgresStore: claims, the attempt lifecycle (start, finish) and lease expiry.
#include <algorithm>
#include <climits>
#include <map>
#include <set>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

namespace {

struct Candidate {
  Job job;
  std::string raw_spec;  // parsed only for the jobs actually claimed
};

// One owner's runnable queued jobs that the runner may take, in priority-then-FIFO order,
// read without locks (the claim locks the ones it picks). Bounded so one picky runner
// cannot make a claim scan everything.
std::vector<Candidate> matching_jobs_of_owner(Connection& c, const Runner& runner, const std::string& owner, int want,
                                              TimeMs now, const JobMatcher& matcher) {
  constexpr int kPage = 128;
  constexpr int kMaxScanned = 2048;
  std::vector<Candidate> out;
  int scanned = 0;
  int64_t after_priority = INT64_MAX, after_seq = 0;
  while (static_cast<int>(out.size()) < want && scanned < kMaxScanned) {
    auto rows = c.query(
        "SELECT seq, id, priority, labels, grp, type, owner_token_id, spec, attempt, repo_name, steward_fallback"
        " FROM jobs WHERE tenant = $1 AND state = 'queued' AND owner_token_id = $2 AND not_before <= $3"
        " AND (priority < $4::bigint OR (priority = $4::bigint AND seq > $5))"
        " ORDER BY priority DESC, seq ASC LIMIT $6",
        runner.tenant, owner, now, after_priority, after_seq, kPage);
    for (int i = 0; i < rows.size(); ++i) {
      ++scanned;
      auto row = rows[i];
      Candidate cand;
      cand.job.seq = row.int64(0);
      cand.job.id = row.text(1);
      cand.job.spec.priority = row.integer(2);
      cand.job.spec.labels = json::parse(row.text(3)).get<std::vector<std::string>>();
      cand.job.spec.group = row.text(4);
      cand.job.spec.type = row.text(5);
      cand.job.owner_token_id = row.text(6);
      cand.job.tenant = runner.tenant;
      cand.job.attempt = row.integer(8);
      cand.job.repo_name = row.text(9);
      if (!row.is_null(10)) cand.job.spec.steward_fallback = row.integer(10) != 0;
      after_priority = cand.job.spec.priority;
      after_seq = cand.job.seq;
      if (!matcher(runner, cand.job)) continue;
      cand.raw_spec = row.text(7);
      out.push_back(std::move(cand));
      if (static_cast<int>(out.size()) >= want) break;
    }
    if (rows.size() < kPage) break;
  }
  return out;
}

}  // namespace

Result<std::vector<ClaimedJob>> PostgresStore::claim_by_normal_rule(const std::string& runner_id, int slots,
                                                                    TimeMs now, TimeMs lease_ms, TimeMs fresh_since) {
  return run<std::vector<ClaimedJob>>([&](Connection& c) -> Result<std::vector<ClaimedJob>> {
    auto rows = c.query(
        "SELECT job_id, attempt, spec FROM corral_claim($1, $2::integer, $3::bigint, $4::bigint, $5::bigint)",
        runner_id, slots, now, lease_ms, fresh_since);
    std::vector<ClaimedJob> claimed;
    for (int i = 0; i < rows.size(); ++i) {
      auto row = rows[i];
      if (row.is_null(0)) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
      auto spec = parse_job_spec(json::parse(row.text(2), nullptr, false));
      claimed.push_back({row.text(0), row.integer(1), now + lease_ms, spec.ok() ? *spec : JobSpec{}});
    }
    return claimed;
  });
}

Result<std::vector<ClaimedJob>> PostgresStore::claim(const std::string& runner_id, int slots, TimeMs now,
                                                     TimeMs lease_ms, const ClaimRule& rule) {
  if (rule.normal_fresh_since) return claim_by_normal_rule(runner_id, slots, now, lease_ms, *rule.normal_fresh_since);
  // Any other rule: the matcher decides, candidate by candidate, inside one transaction.
  const JobMatcher& matcher = rule.matcher;
  return tx<std::vector<ClaimedJob>>([&](Connection& c) -> Result<std::vector<ClaimedJob>> {
    // The runner's row is locked: two claims of one runner (on two servers) take turns, so
    // together they never exceed its max_concurrent_jobs.
    if (c.query("SELECT 1 FROM runners WHERE id = $1 FOR UPDATE", runner_id).empty()) {
      return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
    }
    auto runner = pg::load_runner(c, runner_id);
    if (!runner) return make_error(ErrorCode::kNotFound, "no runner with id " + runner_id);
    std::vector<ClaimedJob> claimed;
    int free_slots =
        std::min(slots, runner->reg.max_concurrent_jobs - static_cast<int>(runner->running.size()));
    // A draining runner (told to, or gone away: a claim still parked when it said goodbye)
    // gets nothing.
    if (free_slots <= 0 || runner->draining) return claimed;

    // Fair share, as in SqliteStore::claim: priority first; among equal priorities the
    // submitter (owner) with the fewest jobs in flight goes next, then the one served least
    // recently, then the oldest job.
    std::map<std::string, int64_t> in_flight;
    {
      auto rows = c.query(
          "SELECT owner_token_id, COUNT(*) FROM jobs WHERE tenant = $1"
          " AND state IN ('leased', 'running') GROUP BY owner_token_id",
          runner->tenant);
      for (int i = 0; i < rows.size(); ++i) in_flight[rows[i].text(0)] = rows[i].int64(1);
    }
    std::map<std::string, int64_t> last_served;
    {
      auto rows = c.query("SELECT owner_token_id, last_claimed_at FROM owner_service WHERE tenant = $1", runner->tenant);
      for (int i = 0; i < rows.size(); ++i) last_served[rows[i].text(0)] = rows[i].int64(1);
    }
    std::vector<std::string> owners;
    {
      auto rows = c.query(
          "SELECT DISTINCT owner_token_id FROM jobs WHERE tenant = $1 AND state = 'queued'"
          " AND not_before <= $2 LIMIT 1000",
          runner->tenant, now);
      for (int i = 0; i < rows.size(); ++i) owners.push_back(rows[i].text(0));
    }
    struct Queue {
      std::vector<Candidate> jobs;
      size_t next = 0;
      int64_t load = 0;
      int64_t last_served = 0;
      std::string owner;
    };
    // A few spare candidates per owner: another server may lock some of them first.
    constexpr int kSpare = 4;
    std::vector<Queue> queues;
    for (const auto& owner : owners) {
      auto jobs = matching_jobs_of_owner(c, *runner, owner, free_slots + kSpare, now, matcher);
      if (!jobs.empty()) queues.push_back({std::move(jobs), 0, in_flight[owner], last_served[owner], owner});
    }
    std::set<std::string> served;
    while (static_cast<int>(claimed.size()) < free_slots) {
      Queue* best = nullptr;
      for (auto& q : queues) {
        if (q.next >= q.jobs.size()) continue;
        if (!best) {
          best = &q;
          continue;
        }
        const Job& a = q.jobs[q.next].job;
        const Job& b = best->jobs[best->next].job;
        if (a.spec.priority != b.spec.priority   ? a.spec.priority > b.spec.priority
            : q.load != best->load                ? q.load < best->load
            : q.last_served != best->last_served ? q.last_served < best->last_served
                                                  : a.seq < b.seq) {
          best = &q;
        }
      }
      if (!best) break;
      const Candidate& cand = best->jobs[best->next++];
      // The lease itself: lock the row unless another claim holds it, and re-check that it
      // is still queued (a claim on another server may have committed since we read it).
      auto locked = c.query(
          "SELECT attempt FROM jobs WHERE id = $1 AND state = 'queued' AND not_before <= $2"
          " FOR UPDATE SKIP LOCKED",
          cand.job.id, now);
      if (locked.empty()) continue;
      ++best->load;
      best->last_served = now;
      served.insert(best->owner);
      int attempt = locked.front().integer(0) + 1;
      c.query("UPDATE jobs SET state = 'leased', attempt = $1, updated_at = $2 WHERE id = $3", attempt, now,
              cand.job.id);
      c.query(
          "INSERT INTO attempts (job_id, attempt, runner_id, state, claimed_at, lease_expires_at)"
          " VALUES ($1, $2, $3, 'leased', $4, $5)",
          cand.job.id, attempt, runner_id, now, now + lease_ms);
      auto spec = parse_job_spec(json::parse(cand.raw_spec));
      claimed.push_back({cand.job.id, attempt, now + lease_ms, spec.ok() ? *spec : JobSpec{}});
    }
    // Once per owner, in name order: concurrent claims lock these rows in one order.
    for (const auto& owner : served) {
      c.query(
          "INSERT INTO owner_service (tenant, owner_token_id, last_claimed_at) VALUES ($1, $2, $3)"
          " ON CONFLICT (tenant, owner_token_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at",
          runner->tenant, owner, now);
    }
    if (!claimed.empty()) pg::refresh_runner_status(c, runner_id);
    return claimed;
  });
}

Result<Attempt> PostgresStore::start_attempt(const std::string& runner_id, const std::string& job_id, int attempt,
                                             TimeMs now) {
  return tx<Attempt>([&](Connection& c) -> Result<Attempt> {
    auto active = pg::fenced_attempt(c, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) return pg::not_active(job_id, attempt, *active);
    if (active->state == "leased") {
      c.query("UPDATE attempts SET state = 'running', started_at = $1 WHERE job_id = $2 AND attempt = $3", now, job_id,
              attempt);
      c.query(
          "UPDATE jobs SET state = 'running', updated_at = $1,"
          " started_at = CASE WHEN started_at = 0 THEN $1 ELSE started_at END WHERE id = $2",
          now, job_id);
    }
    for (auto& a : pg::load_attempts(c, job_id)) {
      if (a.number == attempt) return a;
    }
    return make_error(ErrorCode::kInternal, "attempt vanished");
  });
}

Result<Job> PostgresStore::finish_attempt(const std::string& runner_id, const std::string& job_id, int attempt,
                                          const FinishReport& report, TimeMs now) {
  return tx<Job>([&](Connection& c) -> Result<Job> {
    auto active = pg::fenced_attempt(c, runner_id, job_id, attempt);
    if (!active.ok()) return active.error();
    if (!active->active()) {
      // A repeated finish (the runner did not see our first answer) is answered again.
      if (active->state == to_string(report.state)) return *pg::load_job(c, "", job_id);
      return pg::not_active(job_id, attempt, *active);
    }
    std::string attempt_state(to_string(report.state));
    std::string job_state = attempt_state;
    std::string reason = report.reason;
    if (active->cancel_requested) {
      job_state = "canceled";
      if (reason.empty()) reason = "canceled";
    }
    auto exit_code = report.exit_code;
    c.query(
        "UPDATE attempts SET state = $1, exit_code = $2, reason = $3, finished_at = $4"
        " WHERE job_id = $5 AND attempt = $6",
        attempt_state, exit_code, reason, now, job_id, attempt);
    if (report.state == AttemptState::kFailed && !active->cancel_requested) {
      // Retry policy: a failure it names goes back to the queue after its backoff.
      std::string failure = reason.empty() ? "exit_code" : reason;
      auto policy = pg::retry_policy_of(c, job_id);
      int max_attempts = 0;
      {
        auto rows = c.query("SELECT max_attempts FROM jobs WHERE id = $1", job_id);
        if (!rows.empty()) max_attempts = rows.front().integer(0);
      }
      if (attempt < max_attempts && policy.retries(failure)) {
        c.query(
            "UPDATE jobs SET state = 'queued', not_before = $1, exit_code = $2, reason = $3,"
            " updated_at = $4 WHERE id = $5",
            now + policy.backoff_ms(attempt), exit_code, failure, now, job_id);
        pg::refresh_runner_status(c, runner_id);
        return *pg::load_job(c, "", job_id);
      }
    }
    std::optional<std::string> result;
    if (!report.result.is_null()) result = report.result.dump();
    c.query(
        "UPDATE jobs SET state = $1, exit_code = $2, reason = $3, result = $4,"
        " finished_at = $5, updated_at = $6 WHERE id = $7",
        job_state, exit_code, reason, result, now, now, job_id);
    pg::refresh_runner_status(c, runner_id);
    return *pg::load_job(c, "", job_id);
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
      if (pg::lose_attempt(c, job_id, rows[i].integer(1), now)) sweep.requeued_job_ids.push_back(job_id);
      runners.insert(rows[i].text(2));
    }
    for (const auto& runner_id : runners) pg::refresh_runner_status(c, runner_id);
    return sweep;
  });
}

}  // namespace corral

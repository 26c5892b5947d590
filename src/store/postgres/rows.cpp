#include "store/postgres/rows.h"

namespace corral::pg {

Job job_from_row(const Row& row) {
  Job job;
  job.seq = row.int64(0);
  job.id = row.text(1);
  job.tenant = row.text(2);
  job.owner_token_id = row.text(3);
  auto spec = parse_job_spec(json::parse(row.text(4)));
  if (spec.ok()) job.spec = std::move(spec.value());
  job.state = parse_job_state(row.text(5)).value_or(JobState::kFailed);
  job.attempt = row.integer(6);
  job.cancel_requested = row.integer(7) != 0;
  job.created_at = row.int64(8);
  job.updated_at = row.int64(9);
  job.started_at = row.int64(10);
  job.finished_at = row.int64(11);
  job.not_before = row.int64(12);
  job.exit_code = row.opt_int(13);
  job.reason = row.text(14);
  job.result = row.is_null(15) ? json(nullptr) : json::parse(row.text(15));
  job.idempotency_key = row.text(16);
  job.repo_name = row.text(17);
  job.group_source = row.text(18);
  return job;
}

Attempt attempt_from_row(const Row& row) {
  Attempt a;
  a.job_id = row.text(0);
  a.number = row.integer(1);
  a.runner_id = row.text(2);
  a.runner_name = row.text(3);
  a.state = parse_attempt_state(row.text(4)).value_or(AttemptState::kLost);
  a.claimed_at = row.int64(5);
  a.lease_expires_at = row.int64(6);
  a.started_at = row.int64(7);
  a.finished_at = row.int64(8);
  a.exit_code = row.opt_int(9);
  a.reason = row.text(10);
  a.log_size = row.int64(11);
  a.log_truncated = row.integer(12) != 0;
  return a;
}

Runner runner_from_row(const Row& row) {
  Runner r;
  r.id = row.text(0);
  r.tenant = row.text(1);
  r.reg.name = row.text(2);
  r.token_id = row.text(3);
  r.secret_hash = row.text(4);
  r.reg.labels = json::parse(row.text(5)).get<std::vector<std::string>>();
  r.reg.group = row.text(6);
  r.reg.modes = json::parse(row.text(7)).get<std::vector<std::string>>();
  r.reg.max_concurrent_jobs = row.integer(8);
  r.reg.version = row.text(9);
  r.reg.capabilities = json::parse(row.text(10));
  auto sys = json::parse(row.text(11));
  r.reg.system.cpus = sys.value("cpus", 0);
  r.reg.system.memory_bytes = sys.value("memory_bytes", int64_t{0});
  r.reg.system.disk_bytes = sys.value("disk_bytes", int64_t{0});
  r.reg.system.hostname = sys.value("hostname", std::string());
  r.usage = json::parse(row.text(12));
  auto status = row.text(13);
  r.status = status == "busy"       ? RunnerStatus::kBusy
             : status == "draining" ? RunnerStatus::kDraining
             : status == "offline"  ? RunnerStatus::kOffline
                                    : RunnerStatus::kIdle;
  r.draining = row.integer(14) != 0;
  r.last_heartbeat_at = row.int64(15);
  r.registered_at = row.int64(16);
  r.owner_token_id = row.text(17);
  r.reg.owner_only = row.integer(18) != 0;
  r.reg.description = row.text(19);
  return r;
}

std::vector<Attempt> load_attempts(Connection& c, const std::string& job_id) {
  std::vector<Attempt> out;
  auto rows = c.query(std::string("SELECT ") + kAttemptColumns +
                          " FROM attempts a LEFT JOIN runners r ON r.id = a.runner_id"
                          " WHERE a.job_id = $1 ORDER BY a.attempt",
                      job_id);
  for (int i = 0; i < rows.size(); ++i) out.push_back(attempt_from_row(rows[i]));
  return out;
}

std::optional<Job> load_job(Connection& c, const std::string& tenant, const std::string& id) {
  auto rows = c.query(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = $1", id);
  if (rows.empty()) return std::nullopt;
  Job job = job_from_row(rows.front());
  if (!tenant.empty() && job.tenant != tenant) return std::nullopt;
  job.attempts = load_attempts(c, id);
  return job;
}

std::optional<Runner> load_runner(Connection& c, const std::string& id) {
  // The runner and what it runs, in one statement (one snapshot, one round trip).
  auto rows = c.query(std::string("SELECT ") + kRunnerColumns +
                          ", (SELECT COALESCE(json_agg(json_build_array(a.job_id, a.attempt)"
                          "   ORDER BY a.claimed_at, a.job_id), '[]') FROM attempts a"
                          "   WHERE a.runner_id = runners.id AND a.state IN ('leased', 'running'))"
                          " FROM runners WHERE id = $1",
                      id);
  if (rows.empty()) return std::nullopt;
  Runner runner = runner_from_row(rows.front());
  for (const auto& a : json::parse(rows.front().text(kRunnerColumnCount))) {
    runner.running.push_back({a.at(0).get<std::string>(), a.at(1).get<int>()});
  }
  return runner;
}

void refresh_runner_status(Connection& c, const std::string& runner_id) {
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

RetryPolicy retry_policy_of(Connection& c, const std::string& job_id) {
  auto rows = c.query("SELECT spec FROM jobs WHERE id = $1", job_id);
  if (rows.empty()) return {};
  auto spec = parse_job_spec(json::parse(rows.front().text(0), nullptr, false));
  return spec.ok() ? spec->retry : RetryPolicy{};
}

void load_job_secrets(Connection& c, const std::string& job_id, JobSpec& spec) {
  if (spec.secrets.empty()) return;
  auto rows = c.query("SELECT name, value FROM job_secrets WHERE job_id = $1", job_id);
  for (int i = 0; i < rows.size(); ++i) {
    auto it = spec.secrets.find(rows[i].text(0));
    if (it != spec.secrets.end()) it->second = rows[i].text(1);
  }
}

std::vector<std::string> lose_runner_attempts(Connection& c, const std::string& runner_id,
                                              int64_t now) {
  auto held = c.query(
      "SELECT job_id, attempt FROM attempts WHERE runner_id = $1 AND state IN ('leased', 'running')"
      " ORDER BY job_id, attempt FOR UPDATE",
      runner_id);
  std::vector<std::string> requeued;
  for (int i = 0; i < held.size(); ++i) {
    if (lose_attempt(c, held[i].text(0), held[i].integer(1), now))
      requeued.push_back(held[i].text(0));
  }
  return requeued;
}

bool lose_attempt(Connection& c, const std::string& job_id, int attempt, int64_t now) {
  c.query(
      "UPDATE attempts SET state = 'lost', reason = 'runner_lost', finished_at = $1"
      " WHERE job_id = $2 AND attempt = $3 AND state IN ('leased', 'running')",
      now, job_id, attempt);
  // The job row is locked so a concurrent finish or cancel on another server waits.
  auto rows = c.query(
      "SELECT state, attempt, max_attempts, cancel_requested FROM jobs WHERE id = $1 FOR UPDATE",
      job_id);
  if (rows.empty()) return false;
  std::string state = rows.front().text(0);
  int current = rows.front().integer(1);
  int max_attempts = rows.front().integer(2);
  bool cancel_requested = rows.front().integer(3) != 0;
  if (current != attempt || (state != "leased" && state != "running")) return false;
  if (cancel_requested) {
    c.query(
        "UPDATE jobs SET state = 'canceled', reason = 'canceled', finished_at = $1, updated_at = "
        "$2 WHERE id = $3",
        now, now, job_id);
    return false;
  }
  // A lost attempt is retried at once: the job did nothing wrong, another runner can take it.
  if (current < max_attempts && retry_policy_of(c, job_id).retries("runner_lost")) {
    c.query("UPDATE jobs SET state = 'queued', not_before = $1, updated_at = $2 WHERE id = $3", now,
            now, job_id);
    return true;
  }
  c.query(
      "UPDATE jobs SET state = 'failed', reason = 'runner_lost', finished_at = $1, updated_at = $2 "
      "WHERE id = $3",
      now, now, job_id);
  return false;
}

corral::Result<AttemptFence> fence_of(const Row& row, int first, const std::string& runner_id,
                                      const std::string& job_id, int attempt) {
  std::optional<AttemptFence> found;
  if (!row.is_null(first)) {
    found = AttemptFence{row.text(first),        row.text(first + 1),         row.int64(first + 2),
                         row.integer(first + 3), row.integer(first + 4) != 0, row.text(first + 5),
                         row.int64(first + 6),   row.integer(first + 7) != 0};
  }
  return check_fence(found, runner_id, job_id, attempt);
}

corral::Result<AttemptFence> fenced_attempt(Connection& c, const std::string& runner_id,
                                            const std::string& job_id, int attempt) {
  auto rows = c.query(
      std::string("SELECT ") + kFenceColumns +
          " FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1 AND a.attempt = $2"
          " FOR UPDATE",
      job_id, attempt);
  if (rows.empty()) return attempt_missing(job_id, attempt);
  return fence_of(rows.front(), 0, runner_id, job_id, attempt);
}

}  // namespace corral::pg

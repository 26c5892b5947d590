#include "store/sqlite/rows.h"

namespace corral::sqlite {

Job job_from_row(const Stmt& st) {
  Job job;
  job.seq = st.int64(0);
  job.id = st.text(1);
  job.tenant = st.text(2);
  job.owner_token_id = st.text(3);
  auto spec = parse_job_spec(json::parse(st.text(4)));
  if (spec.ok()) job.spec = std::move(spec.value());
  job.state = parse_job_state(st.text(5)).value_or(JobState::kFailed);
  job.attempt = st.integer(6);
  job.cancel_requested = st.integer(7) != 0;
  job.created_at = st.int64(8);
  job.updated_at = st.int64(9);
  job.started_at = st.int64(10);
  job.finished_at = st.int64(11);
  job.not_before = st.int64(12);
  job.exit_code = st.opt_int(13);
  job.reason = st.text(14);
  job.result = st.is_null(15) ? json(nullptr) : json::parse(st.text(15));
  job.idempotency_key = st.text(16);
  job.repo_name = st.text(17);
  job.group_source = st.text(18);
  return job;
}

Attempt attempt_from_row(const Stmt& st) {
  Attempt a;
  a.job_id = st.text(0);
  a.number = st.integer(1);
  a.runner_id = st.text(2);
  a.runner_name = st.text(3);
  a.state = parse_attempt_state(st.text(4)).value_or(AttemptState::kLost);
  a.claimed_at = st.int64(5);
  a.lease_expires_at = st.int64(6);
  a.started_at = st.int64(7);
  a.finished_at = st.int64(8);
  a.exit_code = st.opt_int(9);
  a.reason = st.text(10);
  a.log_size = st.int64(11);
  a.log_truncated = st.integer(12) != 0;
  return a;
}

Runner runner_from_row(const Stmt& st) {
  Runner r;
  r.id = st.text(0);
  r.tenant = st.text(1);
  r.reg.name = st.text(2);
  r.token_id = st.text(3);
  r.secret_hash = st.text(4);
  r.reg.labels = json::parse(st.text(5)).get<std::vector<std::string>>();
  r.reg.group = st.text(6);
  r.reg.modes = json::parse(st.text(7)).get<std::vector<std::string>>();
  r.reg.max_concurrent_jobs = st.integer(8);
  r.reg.version = st.text(9);
  r.reg.capabilities = json::parse(st.text(10));
  auto sys = json::parse(st.text(11));
  r.reg.system.cpus = sys.value("cpus", 0);
  r.reg.system.memory_bytes = sys.value("memory_bytes", int64_t{0});
  r.reg.system.disk_bytes = sys.value("disk_bytes", int64_t{0});
  r.reg.system.hostname = sys.value("hostname", std::string());
  r.usage = json::parse(st.text(12));
  auto status = st.text(13);
  r.status = status == "busy"       ? RunnerStatus::kBusy
             : status == "draining" ? RunnerStatus::kDraining
             : status == "offline"  ? RunnerStatus::kOffline
                                    : RunnerStatus::kIdle;
  r.draining = st.integer(14) != 0;
  r.last_heartbeat_at = st.int64(15);
  r.registered_at = st.int64(16);
  r.owner_token_id = st.text(17);
  r.reg.owner_only = st.integer(18) != 0;
  r.reg.description = st.text(19);
  return r;
}

std::vector<Attempt> load_attempts(Db& db, const std::string& job_id) {
  std::vector<Attempt> out;
  auto st = db.prepare(std::string("SELECT ") + kAttemptColumns +
                       " FROM attempts a LEFT JOIN runners r ON r.id = a.runner_id"
                       " WHERE a.job_id = ? ORDER BY a.attempt");
  st.bind_all(job_id);
  while (st.step()) out.push_back(attempt_from_row(st));
  return out;
}

std::optional<Job> load_job(Db& db, const std::string& tenant, const std::string& id) {
  std::optional<Job> job;
  {
    auto st = db.prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?");
    st.bind_all(id);
    if (st.step()) job = job_from_row(st);
  }
  if (!job || (!tenant.empty() && job->tenant != tenant)) return std::nullopt;
  job->attempts = load_attempts(db, id);
  return job;
}

std::optional<Runner> load_runner(Db& db, const std::string& id) {
  std::optional<Runner> runner;
  {
    auto st = db.prepare(std::string("SELECT ") + kRunnerColumns + " FROM runners WHERE id = ?");
    st.bind_all(id);
    if (st.step()) runner = runner_from_row(st);
  }
  if (!runner) return runner;
  auto st = db.prepare(
      "SELECT job_id, attempt FROM attempts WHERE runner_id = ? AND state IN ('leased', 'running')"
      " ORDER BY claimed_at");
  st.bind_all(id);
  while (st.step()) runner->running.push_back({st.text(0), st.integer(1)});
  return runner;
}

void refresh_runner_status(Db& db, const std::string& runner_id) {
  db.prepare(
        "UPDATE runners SET status = CASE"
        "  WHEN status = 'offline' THEN 'offline'"
        "  WHEN draining = 1 THEN 'draining'"
        "  WHEN EXISTS (SELECT 1 FROM attempts WHERE runner_id = runners.id"
        "               AND state IN ('leased', 'running')) THEN 'busy'"
        "  ELSE 'idle' END"
        " WHERE id = ?")
      .bind_all(runner_id)
      .exec();
}

}  // namespace corral::sqlite

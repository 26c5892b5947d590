// Row <-> struct mapping shared by the SqliteStore source files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/repo.h"
#include "api/types.h"
#include "store/sqlite/db.h"

namespace corral::sqlite {

inline constexpr const char* kJobColumns =
    "seq, id, tenant, owner_token_id, spec, state, attempt, cancel_requested, created_at, "
    "updated_at, started_at, finished_at, not_before, exit_code, reason, result, "
    "idempotency_key, repo_name, group_source";
Job job_from_row(const Stmt& st);

inline constexpr const char* kAttemptColumns =
    "a.job_id, a.attempt, a.runner_id, COALESCE(r.name, ''), a.state, a.claimed_at, "
    "a.lease_expires_at, a.started_at, a.finished_at, a.exit_code, a.reason, a.log_size, "
    "a.log_truncated";
Attempt attempt_from_row(const Stmt& st);

inline constexpr const char* kRunnerColumns =
    "id, tenant, name, token_id, secret_hash, labels, grp, modes, max_concurrent_jobs, version, "
    "capabilities, system, usage, status, draining, last_heartbeat_at, registered_at, "
    "owner_token_id, owner_only, description";
Runner runner_from_row(const Stmt& st);

// Loads a job with its attempts; nullopt when there is none with that id (and tenant,
// unless tenant is empty).
std::optional<Job> load_job(Db& db, const std::string& tenant, const std::string& id);
std::vector<Attempt> load_attempts(Db& db, const std::string& job_id);
std::optional<Runner> load_runner(Db& db, const std::string& id);

// The runner's status from what it runs: offline and draining stick; busy when it runs
// anything.
void refresh_runner_status(Db& db, const std::string& runner_id);

}  // namespace corral::sqlite

namespace corral::sqlite {

// The tenant's mapping of the repository "owner/name" (sqlite_repos.cpp).
std::optional<RepoMapping> load_repo(Db& db, const std::string& tenant,
                                     const std::string& full_name);

// The attempt's runner is gone: the attempt becomes lost and, if it is the job's current
// one, the job is queued again (attempts left), canceled (cancel was requested) or failed
// with reason runner_lost. Returns true when the job went back to the queue.
bool lose_attempt(Db& db, const std::string& job_id, int attempt, int64_t now);
// The job's retry policy (the defaults when its spec cannot be read).
RetryPolicy retry_policy_of(Db& db, const std::string& job_id);
// Secret values (job_secrets, migration 6): kept beside the job until it ends.
void insert_job_secrets(Db& db, const std::string& job_id,
                        const std::map<std::string, std::string>& secrets);
// Fills in the values of the secrets `spec` names, for a claim answer.
void load_job_secrets(Db& db, const std::string& job_id, JobSpec& spec);
// Everything the runner held goes back to the queue now (lose_attempt on each); returns
// the jobs that were requeued.
std::vector<std::string> lose_runner_attempts(Db& db, const std::string& runner_id, int64_t now);

}  // namespace corral::sqlite

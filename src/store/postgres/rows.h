// Row <-> struct mapping and shared transaction steps of the PostgresStore source files
// (the counterpart of store/sqlite/rows.h; the columns are the same).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/repo.h"
#include "api/types.h"
#include "store/attempt_rules.h"
#include "store/postgres/pg.h"

namespace corral::pg {

inline constexpr const char* kJobColumns =
    "seq, id, tenant, owner_token_id, spec, state, attempt, cancel_requested, created_at, "
    "updated_at, started_at, finished_at, not_before, exit_code, reason, result, "
    "idempotency_key, repo_name, group_source";
Job job_from_row(const Row& row);

inline constexpr const char* kAttemptColumns =
    "a.job_id, a.attempt, a.runner_id, COALESCE(r.name, ''), a.state, a.claimed_at, "
    "a.lease_expires_at, a.started_at, a.finished_at, a.exit_code, a.reason, a.log_size, "
    "a.log_truncated";
Attempt attempt_from_row(const Row& row);
// The same columns as an UPDATE ... RETURNING of attempts lists them.
inline constexpr const char* kAttemptReturning =
    "attempts.job_id, attempts.attempt, attempts.runner_id,"
    " COALESCE((SELECT name FROM runners WHERE id = attempts.runner_id), ''), attempts.state,"
    " attempts.claimed_at, attempts.lease_expires_at, attempts.started_at, attempts.finished_at,"
    " attempts.exit_code, attempts.reason, attempts.log_size, attempts.log_truncated";
inline constexpr int kAttemptColumnCount = 13;

inline constexpr const char* kRunnerColumns =
    "id, tenant, name, token_id, secret_hash, labels, grp, modes, max_concurrent_jobs, version, "
    "capabilities, system, usage, status, draining, last_heartbeat_at, registered_at, "
    "owner_token_id, owner_only, description";
inline constexpr int kRunnerColumnCount = 20;  // the columns above
Runner runner_from_row(const Row& row);

// Loads a job with its attempts; nullopt when there is none with that id (and tenant,
// unless tenant is empty).
std::optional<Job> load_job(Connection& c, const std::string& tenant, const std::string& id);
std::vector<Attempt> load_attempts(Connection& c, const std::string& job_id);
std::optional<Runner> load_runner(Connection& c, const std::string& id);

// The runner's status from what it runs: offline and draining stick; busy when it runs
// anything.
void refresh_runner_status(Connection& c, const std::string& runner_id);

// The attempt's runner is gone: the attempt becomes lost and, if it is the job's current
// one, the job is queued again (attempts left), canceled (cancel was requested) or failed
// with reason runner_lost. Returns true when the job went back to the queue.
bool lose_attempt(Connection& c, const std::string& job_id, int attempt, int64_t now);
// The job's retry policy (the defaults when its spec cannot be read).
RetryPolicy retry_policy_of(Connection& c, const std::string& job_id);
// Secret values (job_secrets, migration 7) are kept beside the job until it ends.
// Fills in the values of the secrets `spec` names, for a claim answer.
void load_job_secrets(Connection& c, const std::string& job_id, JobSpec& spec);
// Everything the runner held goes back to the queue now (lose_attempt on each, rows locked
// in one order); returns the jobs that were requeued.
std::vector<std::string> lose_runner_attempts(Connection& c, const std::string& runner_id,
                                              int64_t now);

// The fencing check every runner call about an attempt goes through (store/attempt_rules.h).
// Locks the attempt and its job until the transaction ends, so runner calls about one
// attempt, cancels and lease sweeps on any server take turns.
corral::Result<AttemptFence> fenced_attempt(Connection& c, const std::string& runner_id,
                                            const std::string& job_id, int attempt);
// The columns fenced_attempt reads (attempts a JOIN jobs j), named so a CTE can carry them,
// and the check of a row of them beginning at column `first` (NULL there: no such attempt).
inline constexpr const char* kFenceColumns =
    "a.runner_id, a.state AS attempt_state, a.log_size, j.attempt AS job_attempt, "
    "j.cancel_requested,"
    " j.state AS job_state, a.log_received, a.log_truncated";
inline constexpr int kFenceColumnCount = 8;
corral::Result<AttemptFence> fence_of(const Row& row, int first, const std::string& runner_id,
                                      const std::string& job_id, int attempt);

// The tenant's mapping of the repository "owner/name" (postgres_repos.cpp).
std::optional<RepoMapping> load_repo(Connection& c, const std::string& tenant,
                                     const std::string& full_name);

}  // namespace corral::pg

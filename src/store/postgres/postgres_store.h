// PostgresStore: the scale-out store. Several servers share one database.
//
// Every Store method is one transaction on a connection from a bounded pool (pg.h). The
// semantics are SqliteStore's, row for row (tests/unit/store runs one suite on both);
// what differs is how concurrent servers are kept apart:
//   - claim locks the runner's row, then takes candidate jobs in claim order with
//     FOR UPDATE SKIP LOCKED, so two servers never lease the same attempt;
//   - every runner call about an attempt locks that attempt and its job (fencing);
//   - the sweeps (expire_leases, mark_stale_runners_offline, run_due_schedules) lock the
//     rows they change with SKIP LOCKED or re-check them under the lock, so each expiry,
//     offline marking and schedule tick happens once across all servers;
//   - logs are chunks in the log_chunks table, so any server can serve any log.
// Times always come from the caller (`now`), never from the database's clock.
#pragma once

#include <memory>
#include <string>

#include "store/postgres/pg.h"
#include "store/sql_store.h"
#include "store/store.h"

namespace corral {

struct PostgresStoreOptions {
  std::string url;    // postgres://user[:password]@host[:port]/dbname[?params]
  int pool_size = 8;  // most connections this server opens
  std::chrono::milliseconds acquire_timeout{10'000};  // a caller waits this long for a connection
  int64_t log_max_bytes = 64 * 1024 * 1024;  // per attempt; later bytes are dropped with a note
};

class PostgresStore;
extern template class SqlStore<PostgresStore, pg::Connection>;

// The methods whose SQL both stores share are SqlStore's (store/sql_store.h); the ones
// below are PostgreSQL's own.
class PostgresStore final : public SqlStore<PostgresStore, pg::Connection> {
 public:
  // Connects and applies the migrations; kUnavailable when the database cannot be reached.
  static Result<std::unique_ptr<PostgresStore>> open(const PostgresStoreOptions& options);
  ~PostgresStore() override;

  // postgres_jobs.cpp
  Result<void> insert_workflow_run(const WorkflowRunRecord& run) override;
  Result<std::optional<WorkflowRunRecord>> get_workflow_run(const std::string& tenant,
                                                            const std::string& id) override;
  Result<std::optional<WorkflowRunRecord>> find_workflow_run_by_delivery(
      const std::string& tenant, const std::string& delivery) override;
  Result<std::vector<WorkflowRunRecord>> list_workflow_runs(const std::string& tenant, int limit,
                                                            TimeMs before_created_at,
                                                            const std::string& before_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> active_workflow_runs() override;
  Result<bool> update_workflow_run(const WorkflowRunRecord& run) override;
  Result<CreateJobResult> create_job(const Job& job, int64_t max_unfinished) override;
  Result<std::vector<CreateJobResult>> create_jobs(const std::vector<Job>& jobs,
                                                   int64_t max_unfinished) override;
  Result<JobPage> list_jobs(const std::string& tenant, const JobQuery& query) override;

  // postgres_claim.cpp
  Result<std::vector<ClaimedJob>> claim(const std::string& runner_id, int slots, TimeMs now,
                                        TimeMs lease_ms, const ClaimRule& rule) override;
  Result<Attempt> start_attempt(const std::string& runner_id, const std::string& job_id,
                                int attempt, TimeMs now) override;
  Result<Job> finish_attempt(const std::string& runner_id, const std::string& job_id, int attempt,
                             const FinishReport& report, TimeMs now) override;
  std::vector<Result<Attempt>> start_attempts(const std::string& runner_id,
                                              const std::vector<AttemptRef>& attempts,
                                              TimeMs now) override;
  std::vector<Result<Job>> finish_attempts(const std::string& runner_id,
                                           const std::vector<AttemptFinish>& finishes,
                                           TimeMs now) override;
  Result<LeaseSweep> expire_leases(TimeMs now) override;
  Result<void> fold_job_counts() override;

  // postgres_logs.cpp
  Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                int attempt, std::string_view data) override;

  // The pool, for the server's LISTEN/NOTIFY wake-ups and for tests.
  pg::Pool& pool() { return pool_; }
  const PostgresStoreOptions& options() const { return options_; }

 private:
  explicit PostgresStore(PostgresStoreOptions options);

  // One transaction (see pg::Pool::transaction).
  template <typename T>
  Result<T> tx(const std::function<Result<T>(pg::Connection&)>& fn) {
    return pool_.transaction<T>(fn);
  }
  // Statements that each commit by themselves, one round trip each (see pg::Pool::run):
  // a single write, or reads that need no common snapshot.
  template <typename T>
  Result<T> run(const std::function<Result<T>(pg::Connection&)>& fn) {
    return pool_.run<T>(fn);
  }
  // SqlStore's hook (store/sql_store.h).
  template <typename T>
  Result<T> transact(StoreAccess access, const std::function<Result<T>(pg::Connection&)>& fn) {
    bool alone = access == StoreAccess::kRead || access == StoreAccess::kWriteOne;
    return alone ? run<T>(fn) : tx<T>(fn);
  }
  // SqlStore::read_log's bytes: n of the attempt's log from offset.
  Result<std::string> log_bytes(pg::Connection& c, const std::string& job_id, int attempt,
                                int64_t offset, int64_t n);
  // SqlStore::append_log's new bytes, at byte `at` of the attempt's readable log.
  Result<void> write_log_bytes(pg::Connection& c, const std::string& job_id, int attempt,
                               int64_t at, const std::string& bytes);
  friend class SqlStore<PostgresStore, pg::Connection>;

  // A claim by the normal rule: one call of the corral_claim function (migration 6).
  Result<std::vector<ClaimedJob>> claim_by_normal_rule(const std::string& runner_id, int slots,
                                                       TimeMs now, TimeMs lease_ms,
                                                       TimeMs fresh_since);

  PostgresStoreOptions options_;
  pg::Pool pool_;
};

}  // namespace corral

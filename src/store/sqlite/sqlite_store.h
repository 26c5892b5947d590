// SqliteStore: the embedded default store.
//
// One writer thread owns the only read-write connection. Callers hand it their
// transaction as a closure and block until it is durable; the writer runs every closure
// that arrived meanwhile inside one BEGIN IMMEDIATE ... COMMIT (each in its own SAVEPOINT,
// so one failing closure rolls back alone), so N concurrent writes cost one fsync (group
// commit). Routine writes (heartbeats) that find no other work queued wait up to
// routine_write_delay for company, so a thousand runners heartbeating each second cost tens
// of fsyncs a second, not a thousand, and a submit or claim arriving meanwhile finds the disk
// idle; any other write ends the wait at once. Reads use a small pool of read-only
// connections (WAL: readers never block the writer).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "store/log_files.h"
#include "store/sql_store.h"
#include "store/sqlite/db.h"
#include "store/store.h"

namespace corral {

struct SqliteStoreOptions {
  std::string path;              // database file; ":memory:" keeps everything in the writer
  bool synchronous_full = true;  // PRAGMA synchronous=FULL (durable across power loss)
  int read_connections = 4;
  size_t max_batch = 512;  // most transactions committed by one fsync
  // How long routine writes alone may wait for others to share their commit, and how many
  // queued writes end the wait early. Each waiting write holds a caller's thread (the server's
  // store pool has 32), so the wait ends well before they could all be held.
  std::chrono::milliseconds routine_write_delay{10};
  size_t routine_write_company = 8;
  std::string log_dir;                       // attempt logs; default: "logs" beside the database
  int64_t log_max_bytes = 64 * 1024 * 1024;  // per attempt; later bytes are dropped with a note
};

class SqliteStore;
extern template class SqlStore<SqliteStore, sqlite::Db>;

// The methods whose SQL both stores share are SqlStore's (store/sql_store.h); the ones
// below are SQLite's own.
class SqliteStore final : public SqlStore<SqliteStore, sqlite::Db> {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteStoreOptions& options);
  ~SqliteStore() override;

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

  Result<std::vector<ClaimedJob>> claim(const std::string& runner_id, int slots, TimeMs now,
                                        TimeMs lease_ms, const ClaimRule& rule) override;
  Result<std::pair<CreateJobResult, std::vector<ClaimedJob>>> create_job_and_claim(
      const Job& job, int64_t max_unfinished, TimeMs now, const Dispatch& dispatch) override;
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
  Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                int attempt, std::string_view data) override;

  Result<LeaseSweep> expire_leases(TimeMs now) override;

  // Number of COMMITs so far (for tests and benchmarks of group commit).
  uint64_t commits() const;
  // Writes handed to the writer and not yet taken into a batch (for tests).
  size_t queued_writes() const;

 private:
  explicit SqliteStore(SqliteStoreOptions options);
  Result<void> start();
  void writer_loop();
  void move_log_chunks_to_files();

  // One caller's ops: woken alone once the last of them is done (guarded by mu_).
  struct Handover {
    std::condition_variable done_cv;
    size_t left = 0;
  };
  struct WriteOp {
    std::function<bool(sqlite::Db&)> run;  // false = roll back this op's savepoint
    std::optional<Error> failure;          // set when the op threw or the commit failed
    Handover* handover = nullptr;
  };

  // Hands the writer ops[0..n) at once (so they go into one batch when they fit) and waits
  // until each is done; false when the store is shutting down and nothing was handed over.
  // routine: the ops may wait up to routine_write_delay for others to share their commit.
  bool hand_to_writer(WriteOp* ops, size_t n, bool routine = false);
  // Takes the writer's next batch from queue_ (lock held): false when stopping and drained.
  bool take_batch(std::unique_lock<std::mutex>& lock, std::vector<WriteOp*>& batch);
  // Runs fn in the writer's next batch and waits until it is committed.
  template <typename T>
  Result<T> write(const std::function<Result<T>(sqlite::Db&)>& fn, bool routine = false);
  // The same for several closures handed to the writer at once (each in its own savepoint),
  // so they share a commit; results in order.
  template <typename T>
  std::vector<Result<T>> write_each(const std::vector<std::function<Result<T>(sqlite::Db&)>>& fns);
  // start_attempt and finish_attempt inside the writer's transaction.
  // claim's and create_job_and_claim's work, in the writer's open transaction.
  Result<std::vector<ClaimedJob>> claim_in(sqlite::Db& db, const std::string& runner_id, int slots,
                                           TimeMs now, TimeMs lease_ms, const ClaimRule& rule);
  Result<Attempt> start_in(sqlite::Db& db, const std::string& runner_id, const std::string& job_id,
                           int attempt, TimeMs now);
  Result<Job> finish_in(sqlite::Db& db, const std::string& runner_id, const std::string& job_id,
                        int attempt, const FinishReport& report, TimeMs now);
  template <typename T>
  Result<T> read(const std::function<Result<T>(sqlite::Db&)>& fn);
  // SqlStore's hook: a reader sees one snapshot anyway, and every write goes through the
  // writer.
  template <typename T>
  Result<T> transact(StoreAccess access, const std::function<Result<T>(sqlite::Db&)>& fn) {
    bool reads = access == StoreAccess::kRead || access == StoreAccess::kSnapshot;
    return reads ? read<T>(fn) : write<T>(fn, access == StoreAccess::kRoutineWrite);
  }
  // SqlStore::read_log's bytes: n of the attempt's log from offset.
  Result<std::string> log_bytes(sqlite::Db& c, const std::string& job_id, int attempt,
                                int64_t offset, int64_t n);
  // SqlStore::append_log's new bytes, at byte `at` of the attempt's readable log.
  Result<void> write_log_bytes(sqlite::Db& c, const std::string& job_id, int attempt, int64_t at,
                               const std::string& bytes);
  friend class SqlStore<SqliteStore, sqlite::Db>;

  SqliteStoreOptions options_;
  std::unique_ptr<sqlite::Db> writer_db_;
  std::unique_ptr<LogFiles> log_files_;
  std::thread writer_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  // Queued ops, oldest first, with when each came; urgent_queued_ counts the ones that are
  // not routine (any of them ends a routine op's wait).
  struct Queued {
    WriteOp* op;
    std::chrono::steady_clock::time_point at;
    bool routine;
  };
  std::deque<Queued> queue_;
  size_t urgent_queued_ = 0;
  bool stopping_ = false;
  uint64_t commits_ = 0;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<sqlite::Db>> readers_;  // the idle ones
  size_t read_connections_ = 0;                       // opened at start, idle or not
};

}  // namespace corral

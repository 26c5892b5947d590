// SqliteStore: the embedded default store.
//
// One writer thread owns the only read-write connection. Callers hand it their
// transaction as a closure and block until it is durable; the writer runs every closure
// that arrived meanwhile inside one BEGIN IMMEDIATE ... COMMIT (each in its own SAVEPOINT,
// so one failing closure rolls back alone), so N concurrent writes cost one fsync (group
// commit). Reads use a small pool of read-only connections (WAL: readers never block the
// writer).
#pragma once

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
  size_t max_batch = 512;                    // most transactions committed by one fsync
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
  Result<CreateJobResult> create_job(const Job& job) override;
  Result<std::vector<CreateJobResult>> create_jobs(const std::vector<Job>& jobs) override;
  Result<JobPage> list_jobs(const std::string& tenant, const JobQuery& query) override;

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
  Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                int attempt, std::string_view data) override;

  Result<LeaseSweep> expire_leases(TimeMs now) override;

  // Number of COMMITs so far (for tests and benchmarks of group commit).
  uint64_t commits() const;

 private:
  explicit SqliteStore(SqliteStoreOptions options);
  Result<void> start();
  void writer_loop();
  void move_log_chunks_to_files();

  struct WriteOp {
    std::function<bool(sqlite::Db&)> run;  // false = roll back this op's savepoint
    std::optional<Error> failure;          // set when the op threw or the commit failed
    bool done = false;
  };

  // Hands the writer ops[0..n) at once (so they go into one batch when they fit) and waits
  // until each is done; false when the store is shutting down and nothing was handed over.
  bool hand_to_writer(WriteOp* ops, size_t n);
  // Runs fn in the writer's next batch and waits until it is committed.
  template <typename T>
  Result<T> write(const std::function<Result<T>(sqlite::Db&)>& fn);
  // The same for several closures handed to the writer at once (each in its own savepoint),
  // so they share a commit; results in order.
  template <typename T>
  std::vector<Result<T>> write_each(const std::vector<std::function<Result<T>(sqlite::Db&)>>& fns);
  // start_attempt and finish_attempt inside the writer's transaction.
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
    return reads ? read<T>(fn) : write<T>(fn);
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
  std::condition_variable done_cv_;
  std::deque<WriteOp*> queue_;
  bool stopping_ = false;
  uint64_t commits_ = 0;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<sqlite::Db>> readers_;  // the idle ones
  size_t read_connections_ = 0;                       // opened at start, idle or not
};

}  // namespace corral

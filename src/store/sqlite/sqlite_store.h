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

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteStoreOptions& options);
  ~SqliteStore() override;

  Result<void> insert_token(const Token& token) override;
  Result<std::optional<Token>> find_token_by_hash(const std::string& hash) override;
  Result<std::vector<Token>> list_tokens() override;
  Result<Revocation> revoke_token(const std::string& id, TimeMs now) override;
  Result<int64_t> count_active_tokens(TokenKind kind) override;
  Result<void> touch_token(const std::string& id, TimeMs now) override;
  Result<Token> get_token(const std::string& id) override;
  Result<Token> set_user_settings(const std::string& token_id,
                                  const UserSettings& settings) override;

  Result<Runner> register_runner(const std::string& tenant, const std::string& token_id,
                                 const RunnerRegistration& reg, const std::string& secret_hash,
                                 TimeMs now) override;
  Result<Runner> get_runner(const std::string& id) override;
  Result<std::optional<Runner>> find_runner_by_secret_hash(const std::string& hash) override;
  Result<std::vector<Runner>> list_runners(const std::string& tenant) override;
  Result<std::vector<RunnerCommand>> heartbeat(const std::string& runner_id,
                                               const HeartbeatReport& report, TimeMs now,
                                               TimeMs lease_ms) override;
  Result<std::vector<std::string>> mark_stale_runners_offline(TimeMs stale_before) override;
  Result<std::vector<RunnerUsageSample>> runner_usage(const std::string& runner_id,
                                                      TimeMs since) override;
  Result<RunnerControl> add_runner_control(const RunnerControl& control) override;
  Result<std::vector<RunnerControl>> list_runner_controls(const std::string& tenant,
                                                          const std::string& runner_id,
                                                          int limit) override;
  Result<std::vector<RunnerControl>> deliver_runner_controls(const std::string& runner_id,
                                                             TimeMs now) override;
  Result<void> finish_runner_control(const std::string& runner_id, const std::string& id,
                                     bool succeeded, const std::string& message,
                                     TimeMs now) override;
  Result<Runner> drain_runner(const std::string& tenant, const std::string& id) override;
  Result<Runner> resume_runner(const std::string& tenant, const std::string& id) override;
  Result<std::pair<Runner, std::vector<std::string>>> delete_runner(const std::string& tenant,
                                                                    const std::string& id,
                                                                    TimeMs now) override;

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
  Result<Job> get_job(const std::string& tenant, const std::string& id) override;
  Result<JobPage> list_jobs(const std::string& tenant, const JobQuery& query) override;
  Result<Job> cancel_job(const std::string& tenant, const std::string& id, TimeMs now) override;
  Result<QueueStats> queue_stats(const std::string& tenant, TimeMs now) override;
  Result<QueuePosition> queue_position(const std::string& tenant, const std::string& job_id,
                                       TimeMs now) override;
  Result<std::vector<Job>> queued_jobs(const std::string& tenant, int limit) override;
  Result<JobStats> job_stats(const std::string& tenant, int hours, TimeMs now) override;
  Result<std::vector<FinishedResult>> agent_results(const std::string& tenant,
                                                    TimeMs since) override;
  Result<int64_t> count_unfinished_jobs(const std::string& tenant) override;
  Result<int64_t> count_schedules(const std::string& tenant) override;

  Result<std::vector<ClaimedJob>> claim(const std::string& runner_id, int slots, TimeMs now,
                                        TimeMs lease_ms, const ClaimRule& rule) override;
  Result<Attempt> start_attempt(const std::string& runner_id, const std::string& job_id,
                                int attempt, TimeMs now) override;
  Result<LogAppend> append_log(const std::string& runner_id, const std::string& job_id, int attempt,
                               int64_t offset, std::string_view data, TimeMs now) override;
  Result<Job> finish_attempt(const std::string& runner_id, const std::string& job_id, int attempt,
                             const FinishReport& report, TimeMs now) override;
  Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                int attempt, std::string_view data) override;
  Result<AgentEvents> read_agent_events(const std::string& tenant, const std::string& job_id,
                                        int attempt) override;
  Result<LogChunk> read_log(const std::string& tenant, const std::string& job_id, int attempt,
                            int64_t offset, int64_t max_bytes) override;

  Result<LeaseSweep> expire_leases(TimeMs now) override;
  Result<std::vector<Job>> runnable_jobs(TimeMs now, int limit) override;

  // sqlite_schedules.cpp
  Result<Schedule> create_schedule(const Schedule& schedule) override;
  Result<std::vector<Schedule>> list_schedules(const std::string& tenant) override;
  Result<Schedule> get_schedule(const std::string& tenant, const std::string& id_or_name) override;
  Result<Schedule> delete_schedule(const std::string& tenant,
                                   const std::string& id_or_name) override;
  Result<Schedule> set_schedule_paused(const std::string& tenant, const std::string& id_or_name,
                                       bool paused, TimeMs now) override;
  Result<std::vector<Job>> run_due_schedules(TimeMs now, const ScheduleDecider& decide) override;

  // sqlite_repos.cpp
  Result<RepoMapping> put_repo(const RepoMapping& repo) override;
  Result<std::vector<RepoMapping>> list_repos(const std::string& tenant) override;
  Result<std::vector<RepoMapping>> repos_with_webhook(const std::string& full_name) override;
  Result<std::optional<RepoMapping>> find_repo(const std::string& tenant,
                                               const std::string& full_name) override;
  Result<RepoMapping> delete_repo(const std::string& tenant, const std::string& full_name) override;
  Result<std::vector<RepoMapping>> stewarded_repos() override;
  Result<void> mark_auto_refresh(const std::string& tenant, const std::string& full_name,
                                 TimeMs now) override;
  Result<TenantSettings> get_tenant_settings(const std::string& tenant) override;
  Result<TenantSettings> put_tenant_settings(const TenantSettings& settings) override;
  Result<std::map<std::string, std::string>> tenant_refresh_timezones() override;

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

  // Runs fn in the writer's next batch and waits until it is committed.
  template <typename T>
  Result<T> write(const std::function<Result<T>(sqlite::Db&)>& fn);
  template <typename T>
  Result<T> read(const std::function<Result<T>(sqlite::Db&)>& fn);

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
  std::vector<std::unique_ptr<sqlite::Db>> readers_;
};

}  // namespace corral

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
#include "store/store.h"

namespace corral {

struct PostgresStoreOptions {
  std::string url;    // postgres://user[:password]@host[:port]/dbname[?params]
  int pool_size = 8;  // most connections this server opens
  std::chrono::milliseconds acquire_timeout{10'000};  // a caller waits this long for a connection
  int64_t log_max_bytes = 64 * 1024 * 1024;  // per attempt; later bytes are dropped with a note
};

class PostgresStore final : public Store {
 public:
  // Connects and applies the migrations; kUnavailable when the database cannot be reached.
  static Result<std::unique_ptr<PostgresStore>> open(const PostgresStoreOptions& options);
  ~PostgresStore() override;

  // postgres_store.cpp
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
  Result<std::vector<Job>> runnable_jobs(TimeMs now, int limit) override;

  // postgres_claim.cpp
  Result<std::vector<ClaimedJob>> claim(const std::string& runner_id, int slots, TimeMs now,
                                        TimeMs lease_ms, const ClaimRule& rule) override;
  Result<Attempt> start_attempt(const std::string& runner_id, const std::string& job_id,
                                int attempt, TimeMs now) override;
  Result<Job> finish_attempt(const std::string& runner_id, const std::string& job_id, int attempt,
                             const FinishReport& report, TimeMs now) override;
  Result<LeaseSweep> expire_leases(TimeMs now) override;

  // postgres_logs.cpp
  Result<LogAppend> append_log(const std::string& runner_id, const std::string& job_id, int attempt,
                               int64_t offset, std::string_view data, TimeMs now) override;
  Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                int attempt, std::string_view data) override;
  Result<AgentEvents> read_agent_events(const std::string& tenant, const std::string& job_id,
                                        int attempt) override;
  Result<LogChunk> read_log(const std::string& tenant, const std::string& job_id, int attempt,
                            int64_t offset, int64_t max_bytes) override;

  // postgres_schedules.cpp
  Result<Schedule> create_schedule(const Schedule& schedule) override;
  Result<std::vector<Schedule>> list_schedules(const std::string& tenant) override;
  Result<Schedule> get_schedule(const std::string& tenant, const std::string& id_or_name) override;
  Result<Schedule> delete_schedule(const std::string& tenant,
                                   const std::string& id_or_name) override;
  Result<Schedule> set_schedule_paused(const std::string& tenant, const std::string& id_or_name,
                                       bool paused, TimeMs now) override;
  Result<std::vector<Job>> run_due_schedules(TimeMs now, const ScheduleDecider& decide) override;

  // postgres_repos.cpp
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

  // A claim by the normal rule: one call of the corral_claim function (migration 6).
  Result<std::vector<ClaimedJob>> claim_by_normal_rule(const std::string& runner_id, int slots,
                                                       TimeMs now, TimeMs lease_ms,
                                                       TimeMs fresh_since);

  PostgresStoreOptions options_;
  pg::Pool pool_;
};

}  // namespace corral

// SqlStore: the Store methods whose SQL and decisions are the same on SQLite and PostgreSQL,
// written once (sql_store_impl.h) over the backend's connection type. A backend derives
// from SqlStore<itself, its connection> and keeps only what differs: its own statements
// (claims, the attempt lifecycle, logs, workflow runs) and its transactions, through four
// hook it provides (the base is its friend): transact<T>(access, fn) runs
// fn (std::function<Result<T>(Conn&)>) as `access` says (StoreAccess below); and where its
// logs live: log_bytes(c, job_id, attempt, offset, n) -> Result<std::string> and
// write_log_bytes(c, job_id, attempt, at, bytes) -> Result<void>, under options_.log_max_bytes. The
// methods are instantiated once per backend, in its store .cpp (`template class SqlStore<...>`).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace corral {

// What a shared method's statements need of the backend's transactions.
enum class StoreAccess {
  kRead,          // reads that need no common snapshot (PostgreSQL: each commits by itself)
  kSnapshot,      // reads of one consistent snapshot (PostgreSQL: one transaction)
  kWrite,         // a transaction that writes (SQLite: the writer's next batch)
  kRoutineWrite,  // a write nobody waits on for long, e.g. a heartbeat (SQLite: may be held a
                  // moment to share a commit with others; PostgreSQL: as kWrite)
  kWriteOne,      // one write statement (PostgreSQL: no BEGIN ... COMMIT around it)
};

template <typename Backend, typename Conn>
class SqlStore : public Store {
 public:
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
  Result<std::vector<Runner>> list_runners(const std::string& tenant,
                                           RunnerListing listing = RunnerListing::kFull) override;
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

  Result<Job> get_job(const std::string& tenant, const std::string& id) override;
  Result<Job> cancel_job(const std::string& tenant, const std::string& id, TimeMs now) override;
  Result<std::vector<Job>> return_claims(const std::string& runner_id,
                                         const std::vector<AttemptRef>& claims,
                                         TimeMs now) override;
  Result<AgentEvents> read_agent_events(const std::string& tenant, const std::string& job_id,
                                        int attempt) override;
  Result<LogAppend> append_log(const std::string& runner_id, const std::string& job_id, int attempt,
                               int64_t offset, std::string_view data, TimeMs now) override;
  Result<LogChunk> read_log(const std::string& tenant, const std::string& job_id, int attempt,
                            int64_t offset, int64_t max_bytes) override;
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

  Result<Schedule> create_schedule(const Schedule& schedule) override;
  Result<std::vector<Schedule>> list_schedules(const std::string& tenant) override;
  Result<Schedule> get_schedule(const std::string& tenant, const std::string& id_or_name) override;
  Result<Schedule> delete_schedule(const std::string& tenant,
                                   const std::string& id_or_name) override;
  Result<Schedule> set_schedule_paused(const std::string& tenant, const std::string& id_or_name,
                                       bool paused, TimeMs now) override;
  Result<std::vector<Job>> run_due_schedules(TimeMs now, const ScheduleDecider& decide) override;

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

 private:
  Backend& self() { return static_cast<Backend&>(*this); }
  // drain_runner (true) and resume_runner (false): an admin's drain, set or lifted.
  Result<Runner> set_admin_drain(const std::string& tenant, const std::string& id, bool drain);
};

}  // namespace corral

// The Store: every durable fact about tokens, runners, jobs, attempts and logs.
//
// Each method is one atomic transaction. Implementations: SqliteStore (embedded default,
// single writer with group commit) and PostgresStore (several servers sharing one database).
// The store enforces the job state machine and attempt fencing (api/types.h); the scheduler's
// matching policy comes in as a predicate, so the store knows nothing of labels or groups.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/repo.h"
#include "api/schedule.h"
#include "api/tenant.h"
#include "api/types.h"
#include "common/result.h"

namespace corral {

// A workflow run as stored (workflow/run.h reads and writes `doc`): one row per run, its
// jobs and their progress inside `doc`. `version` guards concurrent updates (several servers
// advance runs): update_workflow_run writes only over the version it read.
struct WorkflowRunRecord {
  std::string id;
  std::string tenant;
  std::string owner_token_id;
  std::string name;
  std::string state;     // queued | running | succeeded | failed | canceled
  std::string event;     // push | pull_request | manual | schedule
  std::string delivery;  // X-GitHub-Delivery of the webhook that started it ("" = none)
  int64_t version = 0;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs finished_at = 0;
  json doc = json::object();
  // Secret values the run's jobs get ({NAME: value}); kept while the run is active and
  // deleted when it finishes, as a job's are.
  std::map<std::string, std::string> secrets;
};

// One attempt of a job, as a runner names it.
struct AttemptRef {
  std::string job_id;
  int attempt = 0;
};
struct AttemptFinish {
  std::string job_id;
  int attempt = 0;
  FinishReport report;
};

// create_job's max_unfinished when no cap applies.
inline constexpr int64_t kNoJobCap = INT64_MAX;

struct CreateJobResult {
  Job job;
  bool created = true;  // false: the Idempotency-Key named an existing job
};

struct JobQuery {
  std::optional<JobState> state;
  std::string label;   // only jobs that ask for this label
  std::string runner;  // only jobs one of whose attempts ran on this runner (id or name)
  int limit = 50;
  int64_t cursor = 0;  // seq to continue below; 0 = newest first
};

struct JobPage {
  std::vector<Job> jobs;
  int64_t next_cursor = 0;  // 0 = no more pages
};

struct QueueStats {
  std::map<std::string, int64_t> by_state;
  struct GroupCount {
    std::string group;
    int64_t queued = 0;
    int64_t running = 0;  // leased + running
  };
  std::vector<GroupCount> by_group;
  struct LabelSetCount {
    std::vector<std::string> labels;
    int64_t queued = 0;
  };
  std::vector<LabelSetCount> by_labels;
  TimeMs oldest_queued_at = 0;
};

// Where a queued job stands: the jobs a runner would take before it.
struct QueuePosition {
  int64_t higher_priority = 0;  // runnable queued jobs of higher priority
  int64_t older = 0;            // runnable queued jobs of the same priority submitted earlier
};

// Finished jobs over a window, for the dashboard's overview.
struct JobStats {
  struct Hour {
    TimeMs start = 0;
    int64_t succeeded = 0, failed = 0, canceled = 0;
  };
  std::vector<Hour> hours;  // oldest first, one per hour of the window
  int64_t succeeded = 0, failed = 0, canceled = 0;
  std::optional<TimeMs> median_queue_wait_ms;  // created -> first start, of started jobs
  std::optional<TimeMs> median_run_ms;         // first start -> finish
};

// A finished job's result as stored (JSON text), for figures over agent runs.
struct FinishedResult {
  TimeMs finished_at = 0;
  std::string result;
};

struct HeartbeatReport {
  std::vector<RunningAttempt> running;
  json usage = json::object();
  bool draining = false;
  bool going_away = false;  // final heartbeat of a runner shutting down
  // usage.system becomes a sample when the runner's newest is this old (0: never).
  TimeMs usage_sample_every_ms = RunnerUsageSample::kEveryMs;
};

struct LogChunk {
  int attempt = 0;
  int64_t offset = 0;
  std::string data;
  int64_t size = 0;        // total bytes stored for the attempt
  bool complete = false;   // the attempt has finished: no more bytes will come
  bool truncated = false;  // the log reached the cap; it ends with a marker saying so
};

// What one append did. The runner's offsets count every byte it sent; the stored log
// stops at the cap (plus a line saying so), so the two can differ.
struct LogAppend {
  int64_t next_offset = 0;    // bytes received for the attempt: where the runner goes on
  int64_t stored_offset = 0;  // where `stored` begins in the readable log
  std::string stored;         // bytes this call added to the readable log (often all it sent)
};

enum class RunnerListing { kFull, kBrief };

// How long a delivered runner command waits for its answer before it is delivered again.
inline constexpr TimeMs kRedeliverControlMs = 15'000;

// An agent job's raw event stream (runner/agent_cli.h), kept whole per attempt.
inline constexpr size_t kMaxAgentEventsBytes = size_t{16} << 20;
struct AgentEvents {
  int attempt = 0;
  std::string data;  // JSON lines, as the CLI printed them (secrets masked by the runner)
};

struct LeaseSweep {
  std::vector<std::string> requeued_job_ids;
  int64_t lost_attempts = 0;
};

// Decides whether a runner may take a job (labels, group, mode...). Pure policy.
using JobMatcher = std::function<bool(const Runner&, const Job&)>;

// Which jobs a claim may take. `matcher` decides, and a store may always just call it on
// each candidate. A rule made by normal() also promises that the matcher is exactly the
// normal rule of server/matching.h (runner_can_take) for a runner whose last heartbeat is
// at or after `fresh_since` and that is not draining: a store may then evaluate that rule
// in its own query language instead (PostgresStore claims in one statement then).
struct ClaimRule {
  ClaimRule(JobMatcher m) : matcher(std::move(m)) {}  // NOLINT: any predicate is a rule
  static ClaimRule normal(JobMatcher m, TimeMs fresh_since) {
    ClaimRule rule(std::move(m));
    rule.normal_fresh_since = fresh_since;
    return rule;
  }

  JobMatcher matcher;
  std::optional<TimeMs> normal_fresh_since;
  // Optional: a necessary condition of `matcher` that reads only a job's tenant, labels,
  // group, type and owner_token_id. A store calls it on a stand-in job with just those and
  // skips every queued job alike in them, unread, when it says no: a deep queue of jobs a
  // runner cannot take costs its claims nothing. Unset: every job goes to the matcher.
  JobMatcher prefilter;
};

class Store {
 public:
  virtual ~Store() = default;

  // ---- tokens
  virtual Result<void> insert_token(const Token& token) = 0;
  virtual Result<std::optional<Token>> find_token_by_hash(const std::string& hash) = 0;
  virtual Result<std::vector<Token>> list_tokens() = 0;
  // Revokes the token and, in the same transaction, what it vouched for: the runner tokens it
  // made, the secrets of runners registered through either (their held attempts go back to
  // the queue), and its schedules (paused, with the reason). A token revoked already is
  // returned as it is, with the cascade applied again (it finds nothing new).
  virtual Result<Revocation> revoke_token(const std::string& id, TimeMs now) = 0;
  virtual Result<int64_t> count_active_tokens(TokenKind kind) = 0;
  // Sets the token's last_used_at to now unless it was set less than a minute ago.
  virtual Result<void> touch_token(const std::string& id, TimeMs now) = 0;
  // By id, revoked or not (kNotFound otherwise).
  virtual Result<Token> get_token(const std::string& id) = 0;
  // A user's own settings, kept on their token; returns the token as updated.
  virtual Result<Token> set_user_settings(const std::string& token_id,
                                          const UserSettings& settings) = 0;

  // ---- runners
  // Same (tenant, name) and token again = the same runner with a new secret (a restart); an
  // admin's drain stays. The name registered through another token is a kConflict (409).
  virtual Result<Runner> register_runner(const std::string& tenant, const std::string& token_id,
                                         const RunnerRegistration& reg,
                                         const std::string& secret_hash, TimeMs now) = 0;
  virtual Result<Runner> get_runner(const std::string& id) = 0;
  virtual Result<std::optional<Runner>> find_runner_by_secret_hash(const std::string& hash) = 0;
  // kBrief leaves out what only a runner's own page shows: capabilities and system are empty,
  // and of the usage report only its health is kept. A fleet of thousands reads several times
  // faster (the queue explanations and /metrics read it).
  virtual Result<std::vector<Runner>> list_runners(
      const std::string& tenant, RunnerListing listing = RunnerListing::kFull) = 0;
  // Renews the leases of the listed attempts that are still current and this runner's;
  // returns commands (cancel for stale or cancel-requested attempts, drain).
  virtual Result<std::vector<RunnerCommand>> heartbeat(const std::string& runner_id,
                                                       const HeartbeatReport& report, TimeMs now,
                                                       TimeMs lease_ms) = 0;
  virtual Result<std::vector<std::string>> mark_stale_runners_offline(TimeMs stale_before) = 0;
  // Folds the job count changes the triggers recorded into job_counts (migration 15/16); the
  // sweep calls it once a second. Only PostgreSQL records changes apart (SQLite's triggers
  // add to the counts themselves), so elsewhere it does nothing.
  virtual Result<void> fold_job_counts() { return {}; }
  // The runner's resource use since `since`, oldest first: a heartbeat with usage.system
  // adds a sample when the runner's newest is usage_sample_every_ms old, and drops the
  // runner's samples older than RunnerUsageSample::kKeepMs.
  virtual Result<std::vector<RunnerUsageSample>> runner_usage(const std::string& runner_id,
                                                              TimeMs since) = 0;
  // An admin asks a runner to take no new jobs; it is told in its next heartbeat reply and
  // stays draining until it registers again.
  virtual Result<Runner> drain_runner(const std::string& tenant, const std::string& id) = 0;
  // Ends an admin's drain (the runner takes jobs again unless it drains itself).
  virtual Result<Runner> resume_runner(const std::string& tenant, const std::string& id) = 0;
  // Removes the runner: its secret stops working and the attempts it held go back to the
  // queue now. Returns the runner as it was and the jobs requeued.
  virtual Result<std::pair<Runner, std::vector<std::string>>> delete_runner(
      const std::string& tenant, const std::string& id, TimeMs now) = 0;

  // ---- remote commands (api/types.h RunnerControl)
  // Records an admin's command for the tenant's runner (kNotFound for another tenant's). A
  // restart or update cancels the runner's older restart or update not yet finished.
  virtual Result<RunnerControl> add_runner_control(const RunnerControl& control) = 0;
  // The runner's commands, newest first.
  virtual Result<std::vector<RunnerControl>> list_runner_controls(const std::string& tenant,
                                                                  const std::string& runner_id,
                                                                  int limit) = 0;
  // Hands over the runner's pending commands (oldest first), marking them delivered, and again
  // those delivered kRedeliverControlMs or more ago that the runner has not answered.
  virtual Result<std::vector<RunnerControl>> deliver_runner_controls(const std::string& runner_id,
                                                                     TimeMs now) = 0;
  // The runner's report on one of its commands; a command that is not the runner's or has
  // finished already is left as it is.
  virtual Result<void> finish_runner_control(const std::string& runner_id, const std::string& id,
                                             bool succeeded, const std::string& message,
                                             TimeMs now) = 0;

  // ---- workflow runs (WorkflowRunRecord)
  // kConflict when the tenant has a run of the same delivery already.
  virtual Result<void> insert_workflow_run(const WorkflowRunRecord& run) = 0;
  virtual Result<std::optional<WorkflowRunRecord>> get_workflow_run(const std::string& tenant,
                                                                    const std::string& id) = 0;
  virtual Result<std::optional<WorkflowRunRecord>> find_workflow_run_by_delivery(
      const std::string& tenant, const std::string& delivery) = 0;
  // Newest first, after the run (before_created_at, before_id): the last of the page before
  // (0 and "" for the first page).
  virtual Result<std::vector<WorkflowRunRecord>> list_workflow_runs(
      const std::string& tenant, int limit, TimeMs before_created_at,
      const std::string& before_id) = 0;
  // The runs not finished yet, of every tenant: (tenant, id).
  virtual Result<std::vector<std::pair<std::string, std::string>>> active_workflow_runs() = 0;
  // Writes the run if its stored version is still run.version (then version + 1); false when
  // another writer came first. A finished run's secrets are deleted.
  virtual Result<bool> update_workflow_run(const WorkflowRunRecord& run) = 0;

  // ---- jobs
  // Stores a new job. max_unfinished (--max-queued-per-tenant) is checked in the insert's own
  // transaction: a job that would give its tenant more unfinished jobs (queued, leased or
  // running) is refused with kTooManyRequests, detail_json {"unfinished": n}. A repeated
  // Idempotency-Key answers the first submit's job whatever the count. kNoJobCap: no check.
  virtual Result<CreateJobResult> create_job(const Job& job, int64_t max_unfinished) = 0;
  // Several jobs in one transaction: all of them are stored, or (on any error, or past
  // max_unfinished with the new ones among them) none.
  virtual Result<std::vector<CreateJobResult>> create_jobs(const std::vector<Job>& jobs,
                                                           int64_t max_unfinished) = 0;
  virtual Result<Job> get_job(const std::string& tenant, const std::string& id) = 0;
  virtual Result<JobPage> list_jobs(const std::string& tenant, const JobQuery& query) = 0;
  // Queued or leased-not-started: canceled at once. Running: cancel_requested, the runner
  // is told in its next heartbeat. Terminal: 409.
  virtual Result<Job> cancel_job(const std::string& tenant, const std::string& id, TimeMs now) = 0;
  virtual Result<QueueStats> queue_stats(const std::string& tenant, TimeMs now) = 0;
  virtual Result<QueuePosition> queue_position(const std::string& tenant, const std::string& job_id,
                                               TimeMs now) = 0;
  // The tenant's queued jobs in the order runners take them (priority, then age), without
  // their attempts.
  virtual Result<std::vector<Job>> queued_jobs(const std::string& tenant, int limit) = 0;
  // Jobs that finished in the `hours` whole hours up to now (the current hour included).
  virtual Result<JobStats> job_stats(const std::string& tenant, int hours, TimeMs now) = 0;
  // The results of the tenant's agent jobs that finished since `since` (result.agent set).
  virtual Result<std::vector<FinishedResult>> agent_results(const std::string& tenant,
                                                            TimeMs since) = 0;
  // The tenant's jobs not yet finished (queued, leased, running), for --max-queued-per-tenant.
  // Read from the per-state counts (job_counts), not by counting jobs.
  virtual Result<int64_t> count_unfinished_jobs(const std::string& tenant) = 0;

  // ---- attempts (runner side). Every call names the attempt; a call whose attempt is not
  // the job's current one, or not the calling runner's, is a kConflict (HTTP 409).
  virtual Result<std::vector<ClaimedJob>> claim(const std::string& runner_id, int slots, TimeMs now,
                                                TimeMs lease_ms, const ClaimRule& rule) = 0;
  // create_job, then claim for a runner parked on this server that may take the new job:
  // dispatch with the submit. The claim is exactly claim()'s (it may take an older job, or
  // none). SQLite does both in one transaction, so in one commit; elsewhere they are two.
  struct Dispatch {
    const std::string& runner_id;
    int slots;
    TimeMs lease_ms;
    const ClaimRule& rule;
  };
  virtual Result<std::pair<CreateJobResult, std::vector<ClaimedJob>>> create_job_and_claim(
      const Job& job, int64_t max_unfinished, TimeMs now, const Dispatch& dispatch);
  // Claims the runner never received (its parked claim had gone when they were handed to
  // it) go back to the queue as if never made: each attempt still leased to the runner and
  // not started is deleted, and its job is queued again with its attempt count as before, so
  // a retry budget is not spent on it. Returns the jobs queued again; the rest (started,
  // canceled, another runner's) are left as they are.
  virtual Result<std::vector<Job>> return_claims(const std::string& runner_id,
                                                 const std::vector<AttemptRef>& claims,
                                                 TimeMs now) = 0;
  virtual Result<Attempt> start_attempt(const std::string& runner_id, const std::string& job_id,
                                        int attempt, TimeMs now) = 0;
  // Appends data at byte offset; a repeat is idempotent, a gap is kRangeNotSatisfiable with
  // {"next_offset":N} in the error detail. Past the store's log cap the bytes are counted
  // but not kept, and the log ends with a line saying it was truncated.
  virtual Result<LogAppend> append_log(const std::string& runner_id, const std::string& job_id,
                                       int attempt, int64_t offset, std::string_view data,
                                       TimeMs now) = 0;
  virtual Result<Job> finish_attempt(const std::string& runner_id, const std::string& job_id,
                                     int attempt, const FinishReport& report, TimeMs now) = 0;
  // Several of one runner's starts (finishes) at once (POST /api/v1/runners/{id}/reports):
  // each with exactly the effect, fencing and answer of its own call, results in order, one
  // refused item not holding up the others. They commit together: SQLite's writer takes them
  // into one batch; PostgreSQL runs them in one transaction (which takes the runner's row
  // once, not once per finish).
  virtual std::vector<Result<Attempt>> start_attempts(const std::string& runner_id,
                                                      const std::vector<AttemptRef>& attempts,
                                                      TimeMs now) = 0;
  virtual std::vector<Result<Job>> finish_attempts(const std::string& runner_id,
                                                   const std::vector<AttemptFinish>& finishes,
                                                   TimeMs now) = 0;
  // Keeps an agent's event stream for an attempt still running (a repeat replaces it).
  virtual Result<void> put_agent_events(const std::string& runner_id, const std::string& job_id,
                                        int attempt, std::string_view data) = 0;
  // attempt 0 = the latest attempt that has events; kNotFound when none has.
  virtual Result<AgentEvents> read_agent_events(const std::string& tenant,
                                                const std::string& job_id, int attempt) = 0;
  // attempt 0 = the latest attempt that has one.
  virtual Result<LogChunk> read_log(const std::string& tenant, const std::string& job_id,
                                    int attempt, int64_t offset, int64_t max_bytes) = 0;

  // ---- sweeps
  // Attempts whose lease ran out become lost; their jobs go back to the queue, or fail
  // with reason runner_lost once max_attempts is used.
  virtual Result<LeaseSweep> expire_leases(TimeMs now) = 0;
  // The oldest claimable queued jobs of all tenants (matching fields and id only), for the
  // server's safety sweep that wakes parked claims a missed wake-up would strand.
  virtual Result<std::vector<Job>> runnable_jobs(TimeMs now, int limit) = 0;

  // ---- schedules (api/schedule.h, docs/schedules.md)
  // A new schedule; a name already used in its tenant is a kConflict (409).
  virtual Result<Schedule> create_schedule(const Schedule& schedule) = 0;
  virtual Result<std::vector<Schedule>> list_schedules(const std::string& tenant) = 0;
  // The tenant's schedules, paused ones included, for --max-schedules-per-tenant.
  virtual Result<int64_t> count_schedules(const std::string& tenant) = 0;
  // By id or by name, within the tenant (kNotFound otherwise).
  virtual Result<Schedule> get_schedule(const std::string& tenant,
                                        const std::string& id_or_name) = 0;
  // Deletes by id or name; the jobs it made stay.
  virtual Result<Schedule> delete_schedule(const std::string& tenant,
                                           const std::string& id_or_name) = 0;
  // A paused schedule makes no jobs; resuming starts from now (no catch-up for the pause).
  virtual Result<Schedule> set_schedule_paused(const std::string& tenant,
                                               const std::string& id_or_name, bool paused,
                                               TimeMs now) = 0;
  // The sweep: in ONE write transaction, every unpaused schedule with next_run_at <= now
  // gets decide(schedule, now); a kRun inserts the tick's job (owned by the schedule's
  // owner, idempotency key schedule_job_key) together with the schedule's new last tick,
  // last run, last job and next run, so a tick makes exactly one job even across a crash
  // or several servers. Returns the jobs made.
  virtual Result<std::vector<Job>> run_due_schedules(TimeMs now, const ScheduleDecider& decide) = 0;

  // ---- repository mappings (api/repo.h); full_name is "owner/name" in lower case
  // Creates or replaces the tenant's mapping of repo.full_name (created_at is kept on a
  // replace). Returns the mapping as stored.
  virtual Result<RepoMapping> put_repo(const RepoMapping& repo) = 0;
  // The tenant's mappings, by name.
  virtual Result<std::vector<RepoMapping>> list_repos(const std::string& tenant) = 0;
  // Every tenant's mapping of the repository that has a webhook secret (the GitHub webhook
  // finds whose it is by its signature).
  virtual Result<std::vector<RepoMapping>> repos_with_webhook(const std::string& full_name) = 0;
  virtual Result<std::optional<RepoMapping>> find_repo(const std::string& tenant,
                                                       const std::string& full_name) = 0;
  // Deletes and returns the mapping (kNotFound when there is none).
  virtual Result<RepoMapping> delete_repo(const std::string& tenant,
                                          const std::string& full_name) = 0;
  // Every tenant's mappings that name a steward (the nightly refresh, server/nightly_refresh.h).
  virtual Result<std::vector<RepoMapping>> stewarded_repos() = 0;
  // Records that the repository's nightly refresh was queued at `now`.
  virtual Result<void> mark_auto_refresh(const std::string& tenant, const std::string& full_name,
                                         TimeMs now) = 0;

  // ---- tenant settings (api/tenant.h)
  // The tenant's settings; a tenant that never set any gets the defaults (updated_at 0).
  virtual Result<TenantSettings> get_tenant_settings(const std::string& tenant) = 0;
  // Creates or replaces the tenant's settings; returns them as stored.
  virtual Result<TenantSettings> put_tenant_settings(const TenantSettings& settings) = 0;
  // Every tenant that set a refresh time zone: tenant -> IANA name (the nightly refresh).
  virtual Result<std::map<std::string, std::string>> tenant_refresh_timezones() = 0;
};

inline Result<std::pair<CreateJobResult, std::vector<ClaimedJob>>> Store::create_job_and_claim(
    const Job& job, int64_t max_unfinished, TimeMs now, const Dispatch& dispatch) {
  auto created = create_job(job, max_unfinished);
  if (!created.ok()) return created.error();
  auto claimed = claim(dispatch.runner_id, dispatch.slots, now, dispatch.lease_ms, dispatch.rule);
  // The job is stored whatever became of the claim: the runner's own claim may take it.
  if (!claimed.ok()) return std::pair{std::move(*created), std::vector<ClaimedJob>{}};
  return std::pair{std::move(*created), std::move(*claimed)};
}

}  // namespace corral

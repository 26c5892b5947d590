// Wire types shared by server, runner and CLI, and their JSON codecs.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace corral {

using json = nlohmann::json;

// The error for a request field that is wrong: "field 'PATH': WHY" (HTTP 422).
Error invalid_field(const std::string& field, const std::string& why);
// 422 naming the first field of obj not among `known` (as prefix + name).
Result<void> check_known_fields(const json& obj, const std::string& prefix,
                                std::initializer_list<std::string_view> known);
// An RFC 3339 time, or null for 0 (never).
json time_or_null(TimeMs t);

// ---- tokens ---------------------------------------------------------------

enum class TokenKind { kAdmin, kUser, kRunner };
std::string_view to_string(TokenKind kind);
std::optional<TokenKind> parse_token_kind(std::string_view s);

// What a user sets on their own token (PUT /api/v1/me/settings).
struct UserSettings {
  // Default for the user's jobs that leave steward_fallback unset: may a repository's
  // steward take them when every runner that could is stale (server/steward.h)?
  bool steward_fallback = false;
};
json to_json(const UserSettings& settings);

// What an admin fixes on a runner registration token (POST /api/v1/tokens, kind runner):
// the runners it registers get these whatever they declare. A runner token a user makes is
// always owner_only (docs/security.md: who decides what).
struct RunnerTokenPolicy {
  std::optional<std::string> group;
  std::optional<std::vector<std::string>> labels;
  bool owner_only = false;

  bool empty() const { return !group && !labels && !owner_only; }
};
json to_json(const RunnerTokenPolicy& policy);
RunnerTokenPolicy runner_policy_from_json(const json& stored);

struct Token {
  std::string id;
  TokenKind kind = TokenKind::kUser;
  std::string tenant;
  std::string name;
  std::string hash;  // SHA-256 of the secret; the secret itself is never stored
  TimeMs created_at = 0;
  TimeMs revoked_at = 0;
  std::string created_by;  // the token that made this one ("" for the first admin)
  UserSettings settings;
  RunnerTokenPolicy runner_policy;  // kind runner only
  // When the token last authenticated a request, to within a minute (0: never). Updated at
  // most once a minute per token, and only on a cache miss (server/auth_cache.h).
  TimeMs last_used_at = 0;
};
json to_json(const Token& token);  // never includes the hash

// ---- jobs -----------------------------------------------------------------

//   queued --claim--> leased --start--> running --finish--> succeeded | failed
//      ^                 |                  |     --cancel--> canceled
//      |   lease expired with attempts left |
//      +-----------------+------------------+
enum class JobState { kQueued, kLeased, kRunning, kSucceeded, kFailed, kCanceled };
std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view s);
bool is_terminal(JobState state);
// Leased or running: a runner holds an attempt of the job.
bool job_in_flight(JobState state);

// An attempt is one claim of a job by one runner; (job_id, attempt) is its fencing token.
enum class AttemptState { kLeased, kRunning, kSucceeded, kFailed, kCanceled, kLost };
std::string_view to_string(AttemptState state);
std::optional<AttemptState> parse_attempt_state(std::string_view s);

// The most log bytes one upload (POST .../attempts/{n}/logs) may carry: a runner sends up to
// this much when its spool has a backlog, and the server accepts it whatever --body-limit says.
inline constexpr size_t kMaxLogChunkBytes = size_t{1} << 20;

struct RepoSpec {
  std::string url;
  std::string ref;
  std::string sha;
  int depth = 0;  // 0 = runner default
};

// Why an attempt failed: runner_lost (the runner died or lost its lease), transient (the
// output or engine error matched a transient pattern), image_pull, clone, engine, oom_killed,
// timed_out, exit_code (any non-zero exit), agent (an agent CLI failed with an error that is
// not transient: a bad key, a missing CLI), policy (a runner's policy refused the job: a
// network, image or repository it does not allow, runner/policy.h), canceled. Decisions
// use the enum; the protocol and the store carry its name, and a runner's own words (any
// other text) read as kOther.
enum class FailureReason {
  kNone,
  kRunnerLost,
  kTransient,
  kImagePull,
  kClone,
  kEngine,
  kOomKilled,
  kTimedOut,
  kExitCode,
  kAgent,
  kPolicy,
  kCanceled,
  kOther
};
std::string_view to_string(FailureReason reason);  // "" for kNone
FailureReason parse_failure_reason(std::string_view text);

// When a failed attempt is tried again: for the reasons in `on`, any of retry_reasons(). A
// job a runner's policy refused is never retried (another attempt cannot change the runner's
// settings). retry.max_attempts is JobSpec::max_attempts (one number, two spellings).
struct RetryPolicy {
  std::vector<int> backoff_s{30, 60, 90};  // wait before retry n is backoff_s[n-1] (last repeats)
  std::vector<FailureReason> on{FailureReason::kRunnerLost, FailureReason::kTransient,
                                FailureReason::kImagePull};
  std::vector<std::string> transient_patterns;  // added to the runner's own patterns

  bool retries(FailureReason reason) const;
  // Milliseconds to wait before the attempt after `failed_attempt`.
  int64_t backoff_ms(int failed_attempt) const;
};
// The reasons retry.on may name: all but policy, canceled and the runner's own words.
const std::vector<FailureReason>& retry_reasons();
// A failure reason as a metric label: the known reasons as they are, an empty one as "none",
// anything else as "other" (runners send free text). A failed attempt without a reason
// failed by its exit code: "exit_code".
std::string reason_label(std::string_view reason);
std::string reason_label(AttemptState state, std::string_view reason);

// An AI coding agent the job runs instead of a command (docs/agents.md): Claude Code or
// Codex, given a prompt, in /workspace with the job's repository cloned. The runner builds
// the command line, shows the agent's work readably in the log, keeps the raw event stream
// beside it and puts what the run cost into the job's result (result.agent).
struct AgentSpec {
  std::string cli = "auto";  // "claude", "codex", or "auto": claude when installed, else codex
  std::string prompt;
  std::string model;                       // "" = the CLI's default
  int max_turns = 0;                       // 0 = the CLI's default (Claude Code only)
  std::vector<std::string> allowed_tools;  // Claude Code's --allowedTools; [] = its default
  std::vector<std::string> args;           // more arguments for the CLI, appended
};

struct JobSpec {
  std::string name;
  std::string image;                 // empty = runner's default image
  std::vector<std::string> command;  // argv; or script
  std::string script;                // run with /bin/sh -c
  std::optional<AgentSpec> agent;    // or an agent
  // or the steps of a workflow job (exactly one of the four), set by the server for the jobs
  // of a workflow run (workflow/run.h job_spec_for; run by runner/workflow_steps.h):
  // {run_id, key, job, env, contexts}; or {discover: {event, ref, sha, ...}}: the runner reads
  // the checkout's .github/workflows files into the result (a GitHub webhook's first job).
  std::optional<json> workflow;
  std::map<std::string, std::string> env;
  // Secret environment variables. Values are known only at submit and in a claim answer
  // (ClaimedJob); everywhere else (the store's spec, every API answer) only the names are
  // kept, with empty values. The runner masks the values in the log.
  std::map<std::string, std::string> secrets;
  std::vector<std::string> labels;  // sorted, unique
  std::string group;
  std::string type;
  int priority = 0;
  int timeout_s = 0;     // 0 = runner default
  int max_attempts = 3;  // also spelled retry.max_attempts
  RetryPolicy retry;
  std::optional<bool> steward_fallback;  // unset: the submitting user's setting
  std::optional<RepoSpec> repo;
  int64_t memory_bytes = 0;  // resources.memory; 0 = runner default
  double cpus = 0;           // resources.cpus; 0 = runner default
  std::string network;       // "" = runner default; "none", "bridge", ...
};

Result<AgentSpec> parse_agent_spec(const json& body);
json to_json(const AgentSpec& agent);

// Validates a submitted spec; errors are 422 and name the offending field. `secrets` is an
// object {NAME: value} as submitted, or the list of names a stored or returned spec has.
Result<JobSpec> parse_job_spec(const json& body);
// The spec as stored: secrets by name only (a claim answer adds the values, see ClaimedJob).
json to_json(const JobSpec& spec);
// The spec as a user sees it: to_json(spec) with any credentials in repo.url removed.
json public_json(const JobSpec& spec);
// Checks a spec a user submits: secrets must come with values.
Result<void> check_submitted_secrets(const json& body);

struct Attempt {
  std::string job_id;
  int number = 0;
  std::string runner_id;
  std::string runner_name;
  AttemptState state = AttemptState::kLeased;
  TimeMs claimed_at = 0;
  TimeMs lease_expires_at = 0;
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
  std::optional<int> exit_code;
  std::string reason;
  int64_t log_size = 0;
  bool log_truncated = false;  // the log reached the server's cap and ends with a note
};
json to_json(const Attempt& attempt);

struct Job {
  std::string id;
  std::string tenant;
  std::string owner_token_id;
  JobSpec spec;
  JobState state = JobState::kQueued;
  int attempt = 0;  // current (latest) attempt number, 0 before the first claim
  bool cancel_requested = false;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  TimeMs started_at = 0;
  TimeMs finished_at = 0;
  TimeMs not_before = 0;
  std::optional<int> exit_code;
  std::string reason;
  json result;  // null when none
  std::string idempotency_key;
  int64_t seq = 0;           // insertion order, used as the pagination cursor
  std::string repo_name;     // "owner/name" of spec.repo (api/repo.h), "" when none
  std::string group_source;  // where spec.group came from: "job", "repo" (a mapping), "" = no group
  std::vector<Attempt> attempts;
};
json to_json(const Job& job);

// ---- runners --------------------------------------------------------------

enum class RunnerStatus { kIdle, kBusy, kDraining, kOffline };
std::string_view to_string(RunnerStatus status);

struct RunnerSystem {
  int cpus = 0;
  int64_t memory_bytes = 0;
  int64_t disk_bytes = 0;
  std::string hostname;
};

struct RunningAttempt {
  std::string job_id;
  int attempt = 0;
};

struct RunnerRegistration {
  std::string name;
  std::string description;  // free text from RUNNER_DESCRIPTION (Monk CI's), at most 1024 bytes
  std::vector<std::string> labels;
  std::string group = "default";
  std::vector<std::string> modes = {"all"};
  int max_concurrent_jobs = 1;
  bool owner_only = false;  // take only jobs its owner submitted
  std::string version;
  json capabilities = json::object();
  RunnerSystem system;
  std::vector<RunningAttempt> running;  // jobs still running after a runner restart
};
Result<RunnerRegistration> parse_runner_registration(const json& body);

struct Runner {
  std::string id;
  std::string tenant;
  std::string token_id;        // the registration token it came in with
  std::string owner_token_id;  // who made that token: the runner's owner
  std::string secret_hash;
  RunnerRegistration reg;
  RunnerStatus status = RunnerStatus::kIdle;
  bool draining = false;
  TimeMs last_heartbeat_at = 0;
  TimeMs registered_at = 0;
  std::vector<RunningAttempt> running;  // attempts the server has leased to it
  json usage = json::object();
};
json to_json(const Runner& runner);
// Why the runner is in state `error` by its last heartbeat (its engine does not answer, its
// disk is full); "" when it is not, or is offline. The API shows status "error" then.
std::string runner_error(const Runner& runner);
// The status the API and /metrics show: "error" while runner_error says so, else the
// stored one (idle, busy, draining, offline).
std::string shown_status(const Runner& runner);

// What revoking a token took down with it (DELETE /api/v1/tokens/{id}).
struct Revocation {
  Token token;
  std::vector<std::string> runner_tokens;  // runner tokens it had made, revoked too
  std::vector<std::string> runners;        // runners registered through either: secrets void
  std::vector<std::string> schedules;      // its schedules, paused
  std::vector<std::string> requeued_jobs;  // attempts those runners held, back in the queue
};
json to_json(const Revocation& revocation);

// What a heartbeat or claim answer tells a runner to do: "cancel" an attempt, "drain"
// (an admin's drain), or an admin's remote command (RunnerControl: id set).
struct RunnerCommand {
  std::string type;  // "cancel", "drain", "resume", "restart", "update"
  std::string job_id;
  int attempt = 0;
  std::string reason;
  std::string id = {};       // the remote command's, acknowledged by the runner
  std::string version = {};  // update: the version the server offers
  std::string sha256 = {};   // update: the offered binary's
};
json to_json(const RunnerCommand& command);

// An admin's remote command to a runner (POST /api/v1/runners/{id}/commands), kept so the
// API can show it: pending until a heartbeat or claim answer hands it over (delivered),
// then succeeded or failed as the runner reports; a newer restart or update cancels an
// older one still unfinished.
struct RunnerControl {
  static constexpr std::string_view kTypes[] = {"drain", "resume", "restart", "update"};
  std::string id;
  std::string tenant;
  std::string runner_id;
  std::string type;
  std::string state = "pending";  // pending | delivered | succeeded | failed | canceled
  std::string message;            // the runner's (or the server's) words on how it went
  std::string created_by;         // the admin token's id
  std::string version;            // update: the version offered when it was asked for
  std::string sha256;             // update: that binary's
  TimeMs created_at = 0;
  TimeMs delivered_at = 0;
  TimeMs finished_at = 0;
  RunnerCommand command() const { return {type, "", 0, "", id, version, sha256}; }
};
json to_json(const RunnerControl& control);

// One point of a runner's resource use over time: the server keeps one per runner per
// minute, from the heartbeat's usage.system, for a day (GET /api/v1/runners/{id}/usage).
struct RunnerUsageSample {
  static constexpr TimeMs kEveryMs = 60'000;
  static constexpr TimeMs kKeepMs = 24 * 3600'000;
  TimeMs at = 0;
  double load_1m = 0;
  int64_t memory_available_bytes = -1;  // -1: not reported
  int64_t disk_free_bytes = -1;
  int running = 0;  // jobs the runner was running
};
json to_json(const RunnerUsageSample& sample);
// The sample a heartbeat's usage object gives; nullopt when it carries no usage.system.
std::optional<RunnerUsageSample> usage_sample_of(const json& usage, int running, TimeMs now);

// A job handed to a runner by a claim.
// A job handed to a runner by a claim. spec.secrets carries the values here, and only here:
// the answer adds them as "secrets": {NAME: value} beside the spec.
struct ClaimedJob {
  std::string job_id;
  int attempt = 0;
  TimeMs lease_expires_at = 0;
  JobSpec spec;
};
json to_json(const ClaimedJob& claimed);
Result<ClaimedJob> parse_claimed_job(const json& body);

struct FinishReport {
  AttemptState state = AttemptState::kSucceeded;  // succeeded | failed | canceled
  std::optional<int> exit_code;
  std::string reason;
  json result;  // null when none
};
Result<FinishReport> parse_finish_report(const json& body);

// ---- helpers ---------------------------------------------------------------

std::vector<std::string> normalize_labels(std::vector<std::string> labels);

}  // namespace corral

// What both stores' SQL shares: the column lists their row mappers read (in this order), and
// the not-found errors they answer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/repo.h"
#include "api/schedule.h"
#include "api/types.h"
#include "common/error.h"
#include "store/store.h"

namespace corral {

inline constexpr const char* kScheduleColumns =
    "id, tenant, owner_token_id, name, cron, timezone, job_spec, cooldown_s, created_at, "
    "updated_at, "
    "last_tick_at, last_run_at, last_job_id, next_run_at, paused, paused_reason";

inline constexpr const char* kTokenColumns =
    "id, kind, tenant, name, hash, created_at, revoked_at, created_by, steward_fallback, "
    "runner_policy, last_used_at";

// Statements both backends run as they are: PostgreSQL's $N parameters, which SQLite reads
// as ?N (sqlite::Db::query).
inline constexpr const char* kWorkflowRunColumns =
    "id, tenant, owner_token_id, name, state, event, delivery, version, created_at, updated_at, "
    "finished_at, doc, secrets";
inline constexpr const char* kInsertWorkflowRun =
    "INSERT INTO workflow_runs (id, tenant, owner_token_id, name, state, event, delivery, version,"
    " created_at, updated_at, finished_at, doc, secrets)"
    " VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT DO NOTHING";
inline constexpr const char* kUpdateWorkflowRun =
    "UPDATE workflow_runs SET name = $1, state = $2, version = version + 1, updated_at = $3,"
    " finished_at = $4, doc = $5, secrets = $6 WHERE tenant = $7 AND id = $8 AND version = $9";
// A page of a tenant's runs, newest first, after the cursor ($2, $3) = the last row's
// (created_at, id) of the page before (INT64_MAX and "" for the first page).
inline constexpr const char* kListWorkflowRuns =
    "SELECT id, tenant, owner_token_id, name, state, event, delivery, version, created_at,"
    " updated_at, finished_at, doc, secrets FROM workflow_runs WHERE tenant = $1"
    " AND (created_at < $2 OR (created_at = $2 AND id < $3))"
    " ORDER BY created_at DESC, id DESC LIMIT $4";

// Reads columns first, first + 1, ... into the fields, each by its type: the row mappers
// below list a struct's fields in their columns' order. Row is either backend's row
// (sqlite::Stmt, sqlite::Rows::Row, pg::Row).
template <typename Row>
void read_column(const Row& row, int col, std::string& out) {
  out = row.text(col);
}
template <typename Row>
void read_column(const Row& row, int col, int64_t& out) {
  out = row.int64(col);
}
template <typename Row>
void read_column(const Row& row, int col, int& out) {
  out = row.integer(col);
}
template <typename Row>
void read_column(const Row& row, int col, bool& out) {
  out = row.integer(col) != 0;
}
template <typename Row>
void read_column(const Row& row, int col, double& out) {
  out = row.real(col);
}
template <typename Row>
void read_column(const Row& row, int col, std::optional<int>& out) {
  out = row.opt_int(col);
}
template <typename Row>
void read_column(const Row& row, int col, std::optional<int64_t>& out) {
  out = row.opt_int64(col);
}
template <typename Row, typename... Fields>
void read_columns(const Row& row, int first, Fields&... fields) {
  int col = first;
  (read_column(row, col++, fields), ...);
}

// A workflow_runs row (kWorkflowRunColumns) of either backend.
template <typename Row>
WorkflowRunRecord workflow_run_from_row(const Row& row) {
  WorkflowRunRecord r;
  read_columns(row, 0, r.id, r.tenant, r.owner_token_id, r.name, r.state, r.event);
  r.delivery = row.is_null(6) ? "" : row.text(6);
  read_columns(row, 7, r.version, r.created_at, r.updated_at, r.finished_at);
  r.doc = json::parse(row.text(11), nullptr, false);
  auto secrets = json::parse(row.text(12), nullptr, false);
  if (secrets.is_object()) {
    for (const auto& [name, value] : secrets.items()) {
      if (value.is_string()) r.secrets[name] = value.template get<std::string>();
    }
  }
  return r;
}

inline bool workflow_run_finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "canceled";
}

// The repos table's columns (a macro so statements stay single literals: GCC 12 warns falsely
// on string + there) and its row mapper, for both backends.
#define CORRAL_REPO_COLUMNS                                                                     \
  "tenant, full_name, grp, steward_runner, steward_group, created_at, updated_at, updated_by, " \
  "clone_url, last_auto_refresh_at, webhook_secret"

template <typename Row>
RepoMapping repo_from_row(const Row& row) {
  RepoMapping r;
  read_columns(row, 0, r.tenant, r.full_name, r.group, r.steward_runner, r.steward_group,
               r.created_at, r.updated_at, r.updated_by, r.clone_url, r.last_auto_refresh_at,
               r.webhook_secret);
  return r;
}

inline constexpr const char* kRunnerUsageColumns =
    "at, load_1m, memory_available_bytes, disk_free_bytes, running";

// A tokens row (kTokenColumns) of either backend.
template <typename Row>
Token token_from_row(const Row& row) {
  Token t;
  t.id = row.text(0);
  t.kind = parse_token_kind(row.text(1)).value_or(TokenKind::kUser);
  read_columns(row, 2, t.tenant, t.name, t.hash, t.created_at, t.revoked_at, t.created_by,
               t.settings.steward_fallback);
  t.runner_policy = runner_policy_from_json(json::parse(row.text(9), nullptr, false));
  t.last_used_at = row.int64(10);
  return t;
}

// A runner_usage row (kRunnerUsageColumns) of either backend.
template <typename Row>
RunnerUsageSample runner_usage_from_row(const Row& row) {
  RunnerUsageSample s;
  read_columns(row, 0, s.at, s.load_1m, s.memory_available_bytes, s.disk_free_bytes, s.running);
  return s;
}

inline constexpr const char* kRunnerControlColumns =
    "id, tenant, runner_id, type, state, message, created_by, version, sha256, created_at, "
    "delivered_at, finished_at";

// A runner_controls row (kRunnerControlColumns) of either backend.
template <typename Row>
RunnerControl runner_control_from_row(const Row& row) {
  RunnerControl c;
  read_columns(row, 0, c.id, c.tenant, c.runner_id, c.type, c.state, c.message, c.created_by,
               c.version, c.sha256, c.created_at, c.delivered_at, c.finished_at);
  return c;
}

inline constexpr const char* kJobColumns =
    "seq, id, tenant, owner_token_id, spec, state, attempt, cancel_requested, created_at, "
    "updated_at, started_at, finished_at, not_before, exit_code, reason, result, "
    "idempotency_key, repo_name, group_source";

inline constexpr const char* kAttemptColumns =
    "a.job_id, a.attempt, a.runner_id, COALESCE(r.name, ''), a.state, a.claimed_at, "
    "a.lease_expires_at, a.started_at, a.finished_at, a.exit_code, a.reason, a.log_size, "
    "a.log_truncated";

inline constexpr const char* kRunnerColumns =
    "id, tenant, name, token_id, secret_hash, labels, grp, modes, max_concurrent_jobs, version, "
    "capabilities, system, usage, status, draining, last_heartbeat_at, registered_at, "
    "owner_token_id, owner_only, description";
inline constexpr int kRunnerColumnCount = 20;  // the columns above

// A jobs row (kJobColumns) of either backend, without its attempts.
template <typename Row>
Job job_from_row(const Row& row) {
  Job job;
  read_columns(row, 0, job.seq, job.id, job.tenant, job.owner_token_id);
  auto spec = parse_job_spec(json::parse(row.text(4)));
  if (spec.ok()) job.spec = std::move(spec.value());
  job.state = parse_job_state(row.text(5)).value_or(JobState::kFailed);
  read_columns(row, 6, job.attempt, job.cancel_requested, job.created_at, job.updated_at,
               job.started_at, job.finished_at, job.not_before, job.exit_code, job.reason);
  job.result = row.is_null(15) ? json(nullptr) : json::parse(row.text(15));
  read_columns(row, 16, job.idempotency_key, job.repo_name, job.group_source);
  return job;
}

// An attempts row (kAttemptColumns) of either backend.
template <typename Row>
Attempt attempt_from_row(const Row& row) {
  Attempt a;
  read_columns(row, 0, a.job_id, a.number, a.runner_id, a.runner_name);
  a.state = parse_attempt_state(row.text(4)).value_or(AttemptState::kLost);
  read_columns(row, 5, a.claimed_at, a.lease_expires_at, a.started_at, a.finished_at, a.exit_code,
               a.reason, a.log_size, a.log_truncated);
  return a;
}

// A runners row (kRunnerColumns) of either backend, without what it runs.
template <typename Row>
// usage_is_health: the usage column holds only the report's health (list_runners, kBrief).
Runner runner_from_row(const Row& row, bool usage_is_health = false) {
  Runner r;
  read_columns(row, 0, r.id, r.tenant, r.reg.name, r.token_id, r.secret_hash);
  r.reg.labels = json::parse(row.text(5)).template get<std::vector<std::string>>();
  r.reg.group = row.text(6);
  r.reg.modes = json::parse(row.text(7)).template get<std::vector<std::string>>();
  read_columns(row, 8, r.reg.max_concurrent_jobs, r.reg.version);
  r.reg.capabilities = json::parse(row.text(10));
  auto sys = json::parse(row.text(11));
  r.reg.system.cpus = sys.value("cpus", 0);
  r.reg.system.memory_bytes = sys.value("memory_bytes", int64_t{0});
  r.reg.system.disk_bytes = sys.value("disk_bytes", int64_t{0});
  r.reg.system.hostname = sys.value("hostname", std::string());
  if (usage_is_health) {
    // (What is not JSON counts as no health: a hostile runner's report must not fail a page.)
    auto health = json::parse(row.text(12), nullptr, false);
    r.usage = health.is_null() || health.is_discarded() ? json::object()
                                                        : json{{"health", std::move(health)}};
  } else {
    r.usage = json::parse(row.text(12));
  }
  auto status = row.text(13);
  r.status = status == "busy"       ? RunnerStatus::kBusy
             : status == "draining" ? RunnerStatus::kDraining
             : status == "offline"  ? RunnerStatus::kOffline
                                    : RunnerStatus::kIdle;
  read_columns(row, 14, r.draining, r.last_heartbeat_at, r.registered_at, r.owner_token_id,
               r.reg.owner_only, r.reg.description);
  return r;
}

// A schedules row (kScheduleColumns) of either backend.
template <typename Row>
Schedule schedule_from_row(const Row& row) {
  Schedule s;
  read_columns(row, 0, s.id, s.tenant, s.owner_token_id, s.spec.name, s.spec.cron, s.spec.timezone);
  auto job = parse_job_spec(json::parse(row.text(6), nullptr, false));
  if (job.ok()) s.spec.job = std::move(job.value());
  read_columns(row, 7, s.spec.cooldown_s, s.created_at, s.updated_at, s.last_tick_at, s.last_run_at,
               s.last_job_id, s.next_run_at, s.paused, s.paused_reason);
  return s;
}

inline Error no_runner(const std::string& id) {
  return make_error(ErrorCode::kNotFound,
                    "no runner with id " + id + " in your tenant; `corral runners` lists them");
}

inline Error no_schedule(const std::string& id_or_name) {
  return make_error(ErrorCode::kNotFound, "no schedule with id or name '" + id_or_name +
                                              "' in your tenant; `corral schedules` lists them");
}

// A runner name belongs to the registration token that first registered it (docs/security.md).
inline Error runner_name_taken(const std::string& name, const std::string& runner_id) {
  return make_error(ErrorCode::kConflict,
                    "runner name '" + name + "' is registered already (" + runner_id +
                        ") through another registration token; pick another name, or have an admin "
                        "remove that runner first (`corral runners delete " +
                        runner_id + "`)");
}

inline Error no_repo(const std::string& full_name) {
  return make_error(ErrorCode::kNotFound, "no mapping for repository '" + full_name +
                                              "' in this tenant; `corral repos` lists them");
}

}  // namespace corral

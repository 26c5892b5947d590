// What both stores' SQL shares: the column lists their row mappers read (in this order), and
// the not-found errors they answer.
#pragma once

#include <string>

#include "api/repo.h"
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
// as ?N (sqlite_params below).
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

// PostgreSQL's "$1" parameters as SQLite's numbered "?1".
inline std::string sqlite_params(std::string sql) {
  for (auto& c : sql) {
    if (c == '$') c = '?';
  }
  return sql;
}

// A workflow_runs row (kWorkflowRunColumns) of either backend.
template <typename Row>
WorkflowRunRecord workflow_run_from_row(const Row& row) {
  WorkflowRunRecord r;
  r.id = row.text(0);
  r.tenant = row.text(1);
  r.owner_token_id = row.text(2);
  r.name = row.text(3);
  r.state = row.text(4);
  r.event = row.text(5);
  r.delivery = row.is_null(6) ? "" : row.text(6);
  r.version = row.int64(7);
  r.created_at = row.int64(8);
  r.updated_at = row.int64(9);
  r.finished_at = row.int64(10);
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
  r.tenant = row.text(0);
  r.full_name = row.text(1);
  r.group = row.text(2);
  r.steward_runner = row.text(3);
  r.steward_group = row.text(4);
  r.created_at = row.int64(5);
  r.updated_at = row.int64(6);
  r.updated_by = row.text(7);
  r.clone_url = row.text(8);
  r.last_auto_refresh_at = row.int64(9);
  r.webhook_secret = row.text(10);
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
  t.tenant = row.text(2);
  t.name = row.text(3);
  t.hash = row.text(4);
  t.created_at = row.int64(5);
  t.revoked_at = row.int64(6);
  t.created_by = row.text(7);
  t.settings.steward_fallback = row.integer(8) != 0;
  t.runner_policy = runner_policy_from_json(json::parse(row.text(9), nullptr, false));
  t.last_used_at = row.int64(10);
  return t;
}

// A runner_usage row (kRunnerUsageColumns) of either backend.
template <typename Row>
RunnerUsageSample runner_usage_from_row(const Row& row) {
  RunnerUsageSample s;
  s.at = row.int64(0);
  s.load_1m = row.real(1);
  s.memory_available_bytes = row.int64(2);
  s.disk_free_bytes = row.int64(3);
  s.running = row.integer(4);
  return s;
}

inline constexpr const char* kRunnerControlColumns =
    "id, tenant, runner_id, type, state, message, created_by, version, sha256, created_at, "
    "delivered_at, finished_at";

// A runner_controls row (kRunnerControlColumns) of either backend.
template <typename Row>
RunnerControl runner_control_from_row(const Row& row) {
  RunnerControl c;
  c.id = row.text(0);
  c.tenant = row.text(1);
  c.runner_id = row.text(2);
  c.type = row.text(3);
  c.state = row.text(4);
  c.message = row.text(5);
  c.created_by = row.text(6);
  c.version = row.text(7);
  c.sha256 = row.text(8);
  c.created_at = row.int64(9);
  c.delivered_at = row.int64(10);
  c.finished_at = row.int64(11);
  return c;
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

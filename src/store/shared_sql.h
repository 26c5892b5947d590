// What both stores' SQL shares: the column lists their row mappers read (in this order), and
// the not-found errors they answer.
#pragma once

#include <string>

#include "api/types.h"
#include "common/error.h"

namespace corral {

inline constexpr const char* kScheduleColumns =
    "id, tenant, owner_token_id, name, cron, timezone, job_spec, cooldown_s, created_at, "
    "updated_at, "
    "last_tick_at, last_run_at, last_job_id, next_run_at, paused, paused_reason";

inline constexpr const char* kTokenColumns =
    "id, kind, tenant, name, hash, created_at, revoked_at, created_by, steward_fallback, "
    "runner_policy";

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

// What both stores' SQL shares: the column lists their row mappers read (in this order), and
// the not-found errors they answer.
#pragma once

#include <string>

#include "common/error.h"

namespace corral {

inline constexpr const char* kScheduleColumns =
    "id, tenant, owner_token_id, name, cron, timezone, job_spec, cooldown_s, created_at, "
    "updated_at, "
    "last_tick_at, last_run_at, last_job_id, next_run_at, paused, paused_reason";

inline constexpr const char* kTokenColumns =
    "id, kind, tenant, name, hash, created_at, revoked_at, created_by, steward_fallback, "
    "runner_policy";

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

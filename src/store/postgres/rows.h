// What the PostgresStore source files share beyond store/sql_core.h: the statements
// PostgreSQL runs its own way (one round trip where SQLite takes several).
#pragma once

#include <optional>
#include <string>

#include "api/types.h"
#include "store/postgres/pg.h"
#include "store/sql_core.h"

namespace corral::pg {

// The attempt columns (kAttemptColumns) as an UPDATE ... RETURNING of attempts lists them.
inline constexpr const char* kAttemptReturning =
    "attempts.job_id, attempts.attempt, attempts.runner_id,"
    " COALESCE((SELECT name FROM runners WHERE id = attempts.runner_id), ''), attempts.state,"
    " attempts.claimed_at, attempts.lease_expires_at, attempts.started_at, attempts.finished_at,"
    " attempts.exit_code, attempts.reason, attempts.log_size, attempts.log_truncated";
inline constexpr int kAttemptColumnCount = 13;

// The runner with what it runs, in one statement; nullopt when there is none with that id.
std::optional<Runner> load_runner(Connection& c, const std::string& id);

}  // namespace corral::pg

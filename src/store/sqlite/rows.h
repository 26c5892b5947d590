// What the SqliteStore source files share beyond store/sql_core.h: the statements SQLite
// runs its own way.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "api/types.h"
#include "store/sql_core.h"
#include "store/sqlite/db.h"

namespace corral::sqlite {

// The runner with what it runs; nullopt when there is none with that id.
std::optional<Runner> load_runner(Db& db, const std::string& id);

// Secret values (job_secrets, migration 6): kept beside the job until it ends.
void insert_job_secrets(Db& db, const std::string& job_id,
                        const std::map<std::string, std::string>& secrets);

}  // namespace corral::sqlite

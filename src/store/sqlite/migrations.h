// SQLite's schema migrations (store/migrations.h, one list for both backends). Each runs
// once, in order, inside one transaction, and is recorded in schema_migrations.
#pragma once

#include "store/sqlite/db.h"

namespace corral::sqlite {

// Applies every migration not yet recorded; returns the schema version.
int migrate(Db& db);

}  // namespace corral::sqlite

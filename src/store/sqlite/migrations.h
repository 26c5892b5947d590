// Numbered schema migrations. Each runs once, in order, inside one transaction, and is
// recorded in schema_migrations. Never edit a released migration: add a new one.
#pragma once

#include "store/sqlite/db.h"

namespace corral::sqlite {

// Applies every migration not yet recorded; returns the schema version.
int migrate(Db& db);

}  // namespace corral::sqlite

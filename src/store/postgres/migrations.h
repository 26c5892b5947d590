// PostgreSQL's schema migrations (store/migrations.h, one list for both backends: the same
// tables and columns in PostgreSQL's types; logs stay in log_chunks because every server
// must be able to serve them; corral_claim is PostgreSQL's own).
#pragma once

#include "store/postgres/pg.h"

namespace corral::pg {

// Applies the migrations the database lacks, each once, recorded in schema_migrations.
// Safe when several servers start at the same moment: each migration runs in a transaction
// holding a transaction-level advisory lock, and checks the version again under it.
// Returns the schema version. Throws PgError.
int migrate(Connection& conn);
// The newest version migrate() brings a database to.
int latest_version();

}  // namespace corral::pg

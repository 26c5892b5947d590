// The schema of both stores as one list of numbered migrations (migrations.cpp), each in
// the backend's own dialect. Each backend applies the ones its database lacks, in order, and
// records their versions in schema_migrations (store/sqlite/migrations.cpp,
// store/postgres/migrations.cpp). The versions are the ones each backend has always
// recorded: PostgreSQL's run one ahead of SQLite's from its migration 6 (corral_claim, which
// SQLite has no counterpart of) and two ahead from its 17 (corral_claim reading the queue by
// shape), so a database made by an earlier corral migrates on.
#pragma once

#include <string>
#include <vector>

namespace corral {

enum class SqlDialect { kSqlite, kPostgres };

struct SchemaMigration {
  int version;  // as the backend records it
  std::string sql;
};

// The backend's migrations, oldest first.
std::vector<SchemaMigration> schema_migrations(SqlDialect dialect);

}  // namespace corral

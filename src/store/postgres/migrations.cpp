#include "store/postgres/migrations.h"

#include <chrono>
#include <vector>

#include "store/migrations.h"

namespace corral::pg {

namespace {

// Any fixed number: the advisory lock all servers take around a migration.
constexpr int64_t kMigrationLock = 0x636f7272616c;  // "corral"

const std::vector<SchemaMigration>& migrations() {
  static const auto kMigrations = schema_migrations(SqlDialect::kPostgres);
  return kMigrations;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int latest_version() {
  return migrations().back().version;
}

int migrate(Connection& conn) {
  int current = 0;
  for (;;) {
    conn.exec_script("BEGIN");
    try {
      // Under the lock, one server at a time reads the version and applies the next step;
      // a server that waited sees the step done and moves on.
      conn.query("SELECT pg_advisory_xact_lock($1::bigint)", kMigrationLock);
      conn.exec_script(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "
          "BIGINT NOT NULL)");
      current = static_cast<int>(
          conn.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").front().int64(0));
      const SchemaMigration* next = nullptr;
      for (const auto& m : migrations()) {
        if (m.version > current) {
          next = &m;
          break;
        }
      }
      if (next) {
        conn.exec_script(next->sql);
        conn.query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1::int, $2::bigint)",
            next->version, wall_clock_ms());
        current = next->version;
      }
      conn.exec_script("COMMIT");
      if (!next) return current;
    } catch (...) {
      if (conn.healthy()) {
        try {
          conn.exec_script("ROLLBACK");
        } catch (...) {
        }
      }
      throw;
    }
  }
}

}  // namespace corral::pg

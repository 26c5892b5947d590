#include "store/sqlite/migrations.h"

#include <chrono>

#include "store/migrations.h"

namespace corral::sqlite {

int migrate(Db& db) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "
      "INTEGER NOT NULL)");
  int current = 0;
  {
    auto st = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (st.step()) current = st.integer(0);
  }
  static const auto kMigrations = schema_migrations(SqlDialect::kSqlite);
  for (const auto& m : kMigrations) {
    if (m.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .bind_all(m.version, static_cast<int64_t>(now))
          .exec();
      db.exec("COMMIT");
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    current = m.version;
  }
  return current;
}

}  // namespace corral::sqlite

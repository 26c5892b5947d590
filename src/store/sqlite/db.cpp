#include "store/sqlite/db.h"

namespace corral::sqlite {

void Stmt::check(int rc) {
  if (rc != SQLITE_OK) {
    throw SqliteError(rc, std::string("sqlite bind: ") + sqlite3_errstr(rc));
  }
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SqliteError(rc, std::string("sqlite: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
}

int Stmt::exec() {
  while (step()) {
  }
  return sqlite3_changes(sqlite3_db_handle(stmt_));
}

Rows Stmt::rows() {
  Rows out;
  int columns = sqlite3_column_count(stmt_);
  while (step()) {
    auto& cells = out.rows_.emplace_back();
    cells.reserve(static_cast<size_t>(columns));
    for (int col = 0; col < columns; ++col) {
      sqlite3_value* v = sqlite3_value_dup(sqlite3_column_value(stmt_, col));
      if (!v) throw SqliteError(SQLITE_NOMEM, "sqlite: out of memory reading a row");
      cells.push_back(v);
    }
  }
  out.affected_ = sqlite3_changes(sqlite3_db_handle(stmt_));
  return out;
}

Rows::~Rows() {
  for (auto& cells : rows_) {
    for (auto* v : cells) sqlite3_value_free(v);
  }
}

Db::Db(const std::string& path, bool read_only) {
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqliteError(rc, "cannot open SQLite database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, "sqlite: " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
}

Stmt Db::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      throw SqliteError(rc, std::string("sqlite prepare: ") + sqlite3_errmsg(db_) + " in: " + sql);
    }
    it = cache_.emplace(sql, stmt).first;
  }
  return Stmt(it->second);
}

}  // namespace corral::sqlite

// A thin RAII layer over the SQLite C API: a connection with a cache of prepared
// statements, and a statement with typed bind/column helpers. Failures throw SqliteError;
// SqliteStore turns them into Result errors at its boundary.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace corral::sqlite {

// PostgreSQL's "$1" parameters as SQLite's numbered "?1".
inline std::string numbered_params(std::string sql) {
  for (auto& c : sql) {
    if (c == '$') c = '?';
  }
  return sql;
}

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, bool v) { return bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& bind(int i, double v) {
    check(sqlite3_bind_double(stmt_, i, v));
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, std::string_view v) {
    check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_null(int i) {
    check(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  template <typename... Args>
  Stmt& bind_all(const Args&... args) {
    int i = 1;
    (bind(i++, args), ...);
    return *this;
  }

  // true while a row is available.
  bool step();
  // Runs to completion; returns sqlite3_changes.
  int exec();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  int integer(int col) const { return sqlite3_column_int(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::string blob(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::optional<int> opt_int(int col) const {
    return is_null(col) ? std::nullopt : std::optional<int>(integer(col));
  }
  std::optional<int64_t> opt_int64(int col) const {
    return is_null(col) ? std::nullopt : std::optional<int64_t>(int64(col));
  }
  bool boolean(int col) const { return int64(col) != 0; }

  // Steps through every row into memory (Db::query).
  class Rows rows();

 private:
  void check(int rc);
  sqlite3_stmt* stmt_;
};

// A statement's rows read into memory, with pg::Rows' interface (size, [i], front, the
// typed getters, affected), so code written once over either backend's connection
// (store/store_core.h) reads them alike.
class Rows {
 public:
  class Row {
   public:
    explicit Row(const std::vector<sqlite3_value*>* cells) : cells_(cells) {}
    bool is_null(int col) const { return sqlite3_value_type(at(col)) == SQLITE_NULL; }
    std::string text(int col) const {
      auto* p = reinterpret_cast<const char*>(sqlite3_value_text(at(col)));
      return p ? std::string(p, sqlite3_value_bytes(at(col))) : std::string();
    }
    std::string blob(int col) const {
      auto* p = static_cast<const char*>(sqlite3_value_blob(at(col)));
      return p ? std::string(p, sqlite3_value_bytes(at(col))) : std::string();
    }
    std::string bytea(int col) const { return blob(col); }  // pg::Row's name for it
    int64_t int64(int col) const { return sqlite3_value_int64(at(col)); }
    int integer(int col) const { return sqlite3_value_int(at(col)); }
    double real(int col) const { return sqlite3_value_double(at(col)); }
    bool boolean(int col) const { return int64(col) != 0; }
    std::optional<int> opt_int(int col) const {
      return is_null(col) ? std::nullopt : std::optional<int>(integer(col));
    }
    std::optional<int64_t> opt_int64(int col) const {
      return is_null(col) ? std::nullopt : std::optional<int64_t>(int64(col));
    }

   private:
    sqlite3_value* at(int col) const { return (*cells_)[static_cast<size_t>(col)]; }
    const std::vector<sqlite3_value*>* cells_;
  };

  Rows() = default;
  Rows(Rows&&) = default;
  Rows& operator=(Rows&&) = default;
  ~Rows();
  int size() const { return static_cast<int>(rows_.size()); }
  bool empty() const { return rows_.empty(); }
  Row operator[](int row) const { return Row(&rows_[static_cast<size_t>(row)]); }
  Row front() const { return (*this)[0]; }
  // Rows the statement inserted, updated or deleted.
  int64_t affected() const { return affected_; }

 private:
  friend class Stmt;
  std::vector<std::vector<sqlite3_value*>> rows_;  // each cell a sqlite3_value_dup
  int64_t affected_ = 0;
};

class Db {
 public:
  // Opens (creating) the database at path; ":memory:" for tests.
  explicit Db(const std::string& path, bool read_only = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  // A cached prepared statement, reset when the returned Stmt goes out of scope.
  Stmt prepare(const std::string& sql);
  int changes() const { return sqlite3_changes(db_); }
  // One statement written with PostgreSQL's "$1" parameters (run here as "?1"), bound and
  // read to its end: pg::Connection::query's counterpart, for code shared by both backends.
  template <typename... Args>
  Rows query(const std::string& sql, const Args&... args) {
    auto st = prepare(numbered_params(sql));
    st.bind_all(args...);
    return st.rows();
  }
  // The same, stepping: fn(const Stmt& row) sees each row until it returns false. Returns
  // the rows seen.
  template <typename Fn, typename... Args>
  int each(const std::string& sql, Fn&& fn, const Args&... args) {
    auto st = prepare(numbered_params(sql));
    st.bind_all(args...);
    int seen = 0;
    while (st.step()) {
      ++seen;
      if (!fn(static_cast<const Stmt&>(st))) break;
    }
    return seen;
  }
  // What the shared SQL appends where PostgreSQL locks the rows it read: nothing here (one
  // writer at a time).
  static constexpr const char* kLockRows = "";
  static constexpr const char* kSkipLocked = "";
  // The JSON text of the runners.usage column's "health" member; 'null' when it has none.
  // (SQLite 3.38's -> operator; a '$' path would be read as a parameter by prepare().)
  static constexpr const char* kUsageHealth = "COALESCE(usage -> 'health', 'null')";
  sqlite3* raw() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace corral::sqlite

// A thin RAII layer over libpq: a Connection with text parameters ($1, $2...) and a cache
// of prepared statements, Rows with typed getters, and a bounded Pool whose transaction()
// runs a closure inside BEGIN ... COMMIT.
//
// Failures inside a closure throw PgError (like sqlite::SqliteError); Pool::transaction
// turns them into Result errors at the store's boundary:
//
//   connection or IO failure, server shutting down   -> ErrorCode::kUnavailable (503)
//   unique / constraint violation (SQLSTATE 23...)   -> ErrorCode::kConflict (409)
//   anything else                                    -> ErrorCode::kUnavailable
//
// Messages name the database (host:port/dbname), never its password.
//
// A Connection is usable on its own (the server's LISTEN/NOTIFY waiter holds one outside
// the pool): socket() for the event loop, consume_input() and next_notification().
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corral::pg {

class PgError : public std::runtime_error {
 public:
  PgError(ErrorCode code, std::string sqlstate, const std::string& what)
      : std::runtime_error(what), code_(code), sqlstate_(std::move(sqlstate)) {}
  ErrorCode code() const { return code_; }
  const std::string& sqlstate() const { return sqlstate_; }
  // A deadlock or serialization failure: the whole transaction may simply run again.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  ErrorCode code_;
  std::string sqlstate_;
};

// The database a URL names, for messages: "host:port/dbname" (no user, no password).
std::string describe_url(const std::string& url);

// A bytea parameter, sent in binary (no escaping).
struct Bytes {
  std::string_view data;
};

class Params {
 public:
  Params& add(std::nullopt_t);
  Params& add(int64_t v) { return text(std::to_string(v)); }
  Params& add(int v) { return text(std::to_string(v)); }
  Params& add(bool v) { return text(v ? "1" : "0"); }  // booleans are INTEGER 0/1, as in SQLite
  Params& add(double v) { return text(std::to_string(v)); }
  Params& add(std::string_view v) { return text(std::string(v)); }
  Params& add(const std::string& v) { return text(v); }
  Params& add(const char* v) { return text(v); }
  Params& add(Bytes v);
  template <typename T>
  Params& add(const std::optional<T>& v) {
    return v ? add(*v) : add(std::nullopt);
  }

  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class Connection;
  Params& text(std::string v);
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

class Row {
 public:
  Row(const PGresult* res, int row) : res_(res), row_(row) {}
  bool is_null(int col) const { return PQgetisnull(res_, row_, col) != 0; }
  std::string text(int col) const;
  int64_t int64(int col) const;
  int integer(int col) const { return static_cast<int>(int64(col)); }
  double real(int col) const;
  bool boolean(int col) const;  // a bool column ("t") or an integer one (non-zero)
  std::optional<int> opt_int(int col) const;
  std::optional<int64_t> opt_int64(int col) const;
  std::string bytea(int col) const;  // a bytea column, decoded

 private:
  const PGresult* res_;
  int row_;
};

// A query's result: rows, and how many rows a command touched.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* res) : res_(res, &PQclear) {}
  int size() const { return res_ ? PQntuples(res_.get()) : 0; }
  bool empty() const { return size() == 0; }
  Row operator[](int row) const { return Row(res_.get(), row); }
  Row front() const { return (*this)[0]; }
  // Rows inserted, updated or deleted (PQcmdTuples).
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> res_;
};

struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};

class Connection {
 public:
  // Connects (blocking, with the URL's connect_timeout or 10 s); kUnavailable on failure.
  static corral::Result<std::unique_ptr<Connection>> open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with parameters, prepared once per connection and cached. Throws PgError.
  Rows exec(const std::string& sql, const Params& params);
  Rows exec(const std::string& sql) { return exec(sql, Params()); }
  template <typename... Args>
  Rows query(const std::string& sql, const Args&... args) {
    Params params;
    (params.add(args), ...);
    return exec(sql, params);
  }
  // What the SQL both backends share appends to a SELECT whose rows the transaction goes
  // on to change (SQLite, with one writer, appends nothing).
  static constexpr const char* kLockRows = " FOR UPDATE";
  static constexpr const char* kSkipLocked = " FOR UPDATE SKIP LOCKED";
  // The JSON text of the runners.usage column's "health" member; 'null' when it has none.
  static constexpr const char* kUsageHealth = "COALESCE((usage::jsonb -> 'health')::text, 'null')";
  // Several statements without parameters (migrations, LISTEN). Throws PgError.
  void exec_script(const std::string& sql);

  // False once libpq saw the connection fail; the pool then discards it.
  bool healthy() const;
  // Reads what the server sent an idle connection (without waiting): false when it closed
  // the connection meanwhile.
  bool still_open();
  const std::string& name() const { return name_; }

  // For a LISTEN loop: the socket to wait on, then consume_input() and drain
  // next_notification(). consume_input() throws PgError when the connection broke.
  int socket() const { return PQsocket(conn_); }
  void consume_input();
  std::optional<Notification> next_notification();
  PGconn* raw() const { return conn_; }

 private:
  Connection(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  [[noreturn]] void fail(const PGresult* res, const std::string& what);
  Rows check(PGresult* res, const std::string& sql);

  PGconn* conn_;
  std::string name_;                             // host:port/dbname, for messages
  std::map<std::string, std::string> prepared_;  // sql -> statement name
};

struct PoolOptions {
  std::string url;
  int max_connections = 8;
  std::chrono::milliseconds acquire_timeout{10'000};
};

// At most max_connections open at once; a caller waits (up to acquire_timeout) for one to be
// returned. A broken connection is closed when it comes back; a new one is opened on the
// next acquire.
class Pool {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  corral::Result<Lease> acquire();

  // Runs fn inside BEGIN ... COMMIT on a pooled connection. fn's error rolls back and is
  // returned; a PgError or other exception rolls back and becomes an error (see the top of
  // this file). A deadlock or serialization failure runs fn again (a few times), and so does
  // a connection found dead at BEGIN (nothing was done on it yet): after a database restart
  // the first call succeeds on a fresh connection instead of failing on a stale one.
  template <typename T>
  corral::Result<T> transaction(const std::function<corral::Result<T>(Connection&)>& fn);

  // Runs fn on a pooled connection outside BEGIN ... COMMIT: each statement commits by
  // itself, in one round trip. For one write statement, or reads that need no common
  // snapshot. A deadlock rolls the statement back and runs fn again, so fn must be safe to
  // repeat. Errors become Results as in transaction().
  template <typename T>
  corral::Result<T> run(const std::function<corral::Result<T>(Connection&)>& fn);

  const std::string& name() const { return name_; }
  int open_connections() const;

 private:
  void give_back(std::unique_ptr<Connection> conn);
  // How often a deadlock or serialization failure runs fn again.
  static constexpr int kRetries = 5;

  PoolOptions options_;
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + leased + being opened
};

corral::Error to_error(const PgError& e);

template <typename T>
corral::Result<T> Pool::transaction(const std::function<corral::Result<T>(Connection&)>& fn) {
  for (int tries = 0;; ++tries) {
    auto lease = acquire();
    if (!lease.ok()) return lease.error();
    Connection& conn = **lease;
    try {
      conn.exec_script("BEGIN");
    } catch (const PgError& e) {
      // A pooled connection the server closed meanwhile: nothing ran on it, try another.
      if (!conn.healthy() && tries < options_.max_connections + 1) continue;
      return to_error(e);
    }
    bool retry = false;
    corral::Result<T> out;
    try {
      out = fn(conn);
      conn.exec_script(out.ok() ? "COMMIT" : "ROLLBACK");
      return out;
    } catch (const PgError& e) {
      out = to_error(e);
      retry = e.retryable() && tries < kRetries;
    } catch (const std::exception& e) {
      out = make_error(ErrorCode::kUnavailable, std::string("store failure: ") + e.what());
    }
    if (conn.healthy()) {
      try {
        conn.exec_script("ROLLBACK");
      } catch (...) {
      }
    }
    if (!retry) return out;
  }
}

template <typename T>
corral::Result<T> Pool::run(const std::function<corral::Result<T>(Connection&)>& fn) {
  for (int tries = 0;; ++tries) {
    auto lease = acquire();
    if (!lease.ok()) return lease.error();
    try {
      return fn(**lease);
    } catch (const PgError& e) {
      if (!e.retryable() || tries >= kRetries) return to_error(e);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kUnavailable, std::string("store failure: ") + e.what());
    }
  }
}

}  // namespace corral::pg

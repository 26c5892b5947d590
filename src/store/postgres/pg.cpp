#include "store/postgres/pg.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace corral::pg {

namespace {

// SQLSTATE classes that mean "the database is not reachable or is going away".
bool unavailable_state(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 ||   // connection exception
         sqlstate.rfind("57P", 0) == 0 ||  // admin shutdown, crash shutdown, cannot connect now
         sqlstate.rfind("53", 0) == 0;     // insufficient resources (too many connections...)
}

// Server notices ("relation ... already exists, skipping") are not errors; libpq would print
// them to stderr.
void ignore_notice(void*, const char*) {}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string describe_url(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (!opts) {
    if (err) PQfreemem(err);
    return "(unparsable PostgreSQL URL)";
  }
  std::string host, port, dbname;
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string key = o->keyword;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(opts);
  if (host.empty()) host = "localhost";
  std::string out = host;
  if (!port.empty()) out += ":" + port;
  if (!dbname.empty()) out += "/" + dbname;
  return out;
}

// ---- Params -------------------------------------------------------------------

Params& Params::text(std::string v) {
  values_.push_back(std::move(v));
  null_.push_back(false);
  formats_.push_back(0);
  return *this;
}

Params& Params::add(std::nullopt_t) {
  values_.emplace_back();
  null_.push_back(true);
  formats_.push_back(0);
  return *this;
}

Params& Params::add(Bytes v) {
  values_.emplace_back(v.data);
  null_.push_back(false);
  formats_.push_back(1);
  return *this;
}

// ---- Row / Rows ---------------------------------------------------------------

std::string Row::text(int col) const {
  return std::string(PQgetvalue(res_, row_, col),
                     static_cast<size_t>(PQgetlength(res_, row_, col)));
}

int64_t Row::int64(int col) const {
  if (is_null(col)) return 0;
  return std::strtoll(PQgetvalue(res_, row_, col), nullptr, 10);
}

double Row::real(int col) const {
  if (is_null(col)) return 0;
  return std::strtod(PQgetvalue(res_, row_, col), nullptr);
}

bool Row::boolean(int col) const {
  const char* v = PQgetvalue(res_, row_, col);
  return v[0] == 't' || (v[0] != 'f' && v[0] != '\0' && std::strtoll(v, nullptr, 10) != 0);
}

std::optional<int> Row::opt_int(int col) const {
  return is_null(col) ? std::nullopt : std::optional<int>(integer(col));
}

std::optional<int64_t> Row::opt_int64(int col) const {
  return is_null(col) ? std::nullopt : std::optional<int64_t>(int64(col));
}

std::string Row::bytea(int col) const {
  if (is_null(col)) return {};
  if (PQfformat(res_, col) == 1) return text(col);
  size_t len = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(res_, row_, col)), &len);
  if (!raw) throw PgError(ErrorCode::kInternal, "", "cannot decode a bytea value (out of memory)");
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

int64_t Rows::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

// ---- Connection ---------------------------------------------------------------

corral::Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  std::string name = describe_url(url);
  // A bounded connect: libpq's default is to wait forever.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), "10", "corral", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn)
    return make_error(ErrorCode::kUnavailable, "PostgreSQL at " + name + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = trim(PQerrorMessage(conn));
    PQfinish(conn);
    return make_error(ErrorCode::kUnavailable,
                      "cannot connect to PostgreSQL at " + name + ": " + msg);
  }
  PQsetNoticeProcessor(conn, &ignore_notice, nullptr);
  return std::unique_ptr<Connection>(new Connection(conn, std::move(name)));
}

Connection::~Connection() {
  PQfinish(conn_);
}

bool Connection::healthy() const {
  return PQstatus(conn_) == CONNECTION_OK;
}

void Connection::fail(const PGresult* res, const std::string& what) {
  std::string sqlstate;
  std::string msg;
  if (res) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = s;
    msg = trim(PQresultErrorMessage(res));
  }
  if (msg.empty()) msg = trim(PQerrorMessage(conn_));
  ErrorCode code = ErrorCode::kUnavailable;
  if (sqlstate.rfind("23", 0) == 0)
    code = ErrorCode::kConflict;
  else if (!healthy() || unavailable_state(sqlstate))
    code = ErrorCode::kUnavailable;
  std::string context = what.empty() ? "" : " (in: " + what.substr(0, 80) + ")";
  throw PgError(code, sqlstate, "PostgreSQL at " + name_ + ": " + msg + context);
}

Rows Connection::check(PGresult* res, const std::string& sql) {
  ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(res);
  Rows owned(res);  // freed when this throws
  fail(res, sql);
}

Rows Connection::exec(const std::string& sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string stmt_name = "corral_" + std::to_string(prepared_.size() + 1);
    check(PQprepare(conn_, stmt_name.c_str(), sql.c_str(), 0, nullptr), sql);
    it = prepared_.emplace(sql, std::move(stmt_name)).first;
  }
  int n = params.size();
  std::vector<const char*> values(static_cast<size_t>(n));
  std::vector<int> lengths(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto idx = static_cast<size_t>(i);
    values[idx] = params.null_[idx] ? nullptr : params.values_[idx].data();
    lengths[idx] = static_cast<int>(params.values_[idx].size());
  }
  return check(PQexecPrepared(conn_, it->second.c_str(), n, values.data(), lengths.data(),
                              params.formats_.data(), 0),
               sql);
}

void Connection::exec_script(const std::string& sql) {
  PGresult* res = PQexec(conn_, sql.c_str());
  // PQexec returns the last statement's result; an earlier failure stops the script there.
  check(res, sql);
}

bool Connection::still_open() {
  // libpq's socket is non-blocking: this reads only what is already there.
  return PQconsumeInput(conn_) != 0 && healthy();
}

void Connection::consume_input() {
  if (PQconsumeInput(conn_) == 0) fail(nullptr, "");
}

std::optional<Notification> Connection::next_notification() {
  PGnotify* n = PQnotifies(conn_);
  if (!n) return std::nullopt;
  Notification out{n->relname ? n->relname : "", n->extra ? n->extra : "", n->be_pid};
  PQfreemem(n);
  return out;
}

// ---- Pool ---------------------------------------------------------------------

Error to_error(const PgError& e) {
  return make_error(e.code(), e.what());
}

Pool::Pool(PoolOptions options) : options_(std::move(options)), name_(describe_url(options_.url)) {
  if (options_.max_connections < 1) options_.max_connections = 1;
}

Pool::~Pool() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

Pool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

int Pool::open_connections() const {
  std::lock_guard lock(mu_);
  return open_;
}

corral::Result<Pool::Lease> Pool::acquire() {
  auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      while (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        // An idle connection the database closed (a restart, an admin's terminate) has
        // the server's goodbye waiting on its socket: drop it before anything is sent on
        // it, so a statement is never lost to a connection that was already gone.
        if (conn->still_open()) return Lease(this, std::move(conn));
        --open_;
      }
      if (open_ < options_.max_connections) {
        ++open_;  // a slot for the connection opened below, outside the lock
        break;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.max_connections) {
        return make_error(ErrorCode::kUnavailable,
                          "all " + std::to_string(options_.max_connections) +
                              " connections to PostgreSQL at " + name_ + " stayed busy for " +
                              std::to_string(options_.acquire_timeout.count()) +
                              " ms; raise the pool size or look for slow queries");
      }
    }
  }
  auto conn = Connection::open(options_.url);
  if (!conn.ok()) {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
    return conn.error();
  }
  return Lease(this, std::move(conn.value()));
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  // A connection left inside a transaction (a throw between BEGIN and ROLLBACK) or broken
  // is closed, not reused.
  bool reusable = conn->healthy() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE;
  {
    std::lock_guard lock(mu_);
    if (reusable) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  conn.reset();  // closed outside the lock
  cv_.notify_one();
}

}  // namespace corral::pg

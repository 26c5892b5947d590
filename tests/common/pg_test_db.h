// A fresh, empty PostgreSQL database per test, made on the server CORRAL_TEST_PG names and
// dropped again in the destructor. Without CORRAL_TEST_PG, url() is empty and tests skip:
//
//   eval "$(scripts/pg-service.sh start /tmp/corral-pg)"
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "common/crypto.h"
#include "store/postgres/pg.h"

namespace corral::testing {

inline constexpr const char* kPgSkipMessage =
    "PostgreSQL tests need CORRAL_TEST_PG; run: eval \"$(scripts/pg-service.sh start "
    "/tmp/corral-pg)\"";

inline std::string pg_server_url() {
  const char* url = std::getenv("CORRAL_TEST_PG");
  return url ? url : "";
}

// The same server URL naming another database.
inline std::string pg_url_with_database(const std::string& url, const std::string& dbname) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto path = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  std::string head = url.substr(0, path == std::string::npos ? query : path);
  std::string tail = query == std::string::npos ? "" : url.substr(query);
  return head + "/" + dbname + tail;
}

// Isolation::kDatabase: a database of the test's own (CREATE DATABASE copies template1 and
// DROP DATABASE checkpoints: about 1.5 s together on a busy 2-core machine). For tests that
// need a database to themselves: LISTEN/NOTIFY channels and advisory locks are per database.
// Isolation::kSchema: a schema of the test's own in one database the test processes share,
// named first in the connection's search_path (tens of milliseconds); the store's tables
// are unqualified, so its migrations and queries stay inside the schema. For the store's
// conformance suites, which run once per backend and are most of the PostgreSQL tests.
class PgTestDatabase {
 public:
  enum class Isolation { kDatabase, kSchema };

  explicit PgTestDatabase(Isolation isolation = Isolation::kDatabase) {
    admin_url_ = pg_server_url();
    if (admin_url_.empty()) return;
    static std::atomic<int> counter{0};
    name_ = "corral_t_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    schema_ = isolation == Isolation::kSchema;
    try {
      if (schema_) {
        shared_url_ = pg_url_with_database(admin_url_, kSharedDatabase);
        ensure_shared_database();
        auto conn = pg::Connection::open(shared_url_);
        if (!conn.ok()) {
          error_ = conn.error().message;
          return;
        }
        (*conn)->exec_script("DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " + name_);
        url_ = shared_url_ + "?options=-csearch_path%3D" + name_ + "%20-csynchronous_commit%3Doff";
        return;
      }
      auto admin = pg::Connection::open(admin_url_);
      if (!admin.ok()) {
        error_ = admin.error().message;
        return;
      }
      (*admin)->exec_script("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
      (*admin)->exec_script("CREATE DATABASE " + name_);
      // Like the SQLite tests' synchronous=OFF: commits need not wait for the disk. The
      // cluster itself keeps fsync on.
      (*admin)->exec_script("ALTER DATABASE " + name_ + " SET synchronous_commit = off");
    } catch (const std::exception& e) {
      error_ = e.what();
      return;
    }
    url_ = pg_url_with_database(admin_url_, name_);
  }
  ~PgTestDatabase() {
    if (url_.empty()) return;
    auto admin = pg::Connection::open(schema_ ? shared_url_ : admin_url_);
    if (!admin.ok()) return;
    try {
      (*admin)->exec_script(schema_ ? "DROP SCHEMA IF EXISTS " + name_ + " CASCADE"
                                    : "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  bool configured() const { return !admin_url_.empty(); }
  const std::string& url() const { return url_; }      // empty when not made
  const std::string& error() const { return error_; }  // why it could not be made

 private:
  static constexpr const char* kSharedDatabase = "corral_tests_shared";

  // Creates the shared database once per process; another test process may be creating it
  // at the same moment, so "already exists" is success.
  void ensure_shared_database() {
    static std::atomic<bool> made{false};
    if (made) return;
    auto admin = pg::Connection::open(admin_url_);
    if (!admin.ok()) throw std::runtime_error(admin.error().message);
    auto exists = (*admin)->query("SELECT 1 FROM pg_database WHERE datname = $1",
                                  std::string(kSharedDatabase));
    if (exists.empty()) {
      try {
        (*admin)->exec_script(std::string("CREATE DATABASE ") + kSharedDatabase);
      } catch (const std::exception& e) {
        if (std::string(e.what()).find("already exists") == std::string::npos) throw;
      }
    }
    made = true;
  }

  std::string admin_url_;
  std::string shared_url_;
  std::string name_;
  std::string url_;
  std::string error_;
  bool schema_ = false;
};

// A private PostgreSQL cluster in a directory of its own (scripts/pg-service.sh), for tests
// that stop and start the database: the shared cluster on CORRAL_TEST_PG keeps running.
// The test binary must define CORRAL_SOURCE_DIR (CMakeLists.txt does).
class PgPrivateCluster {
 public:
  PgPrivateCluster()
      : dir_(std::filesystem::temp_directory_path() / ("corral-pg-private-" + random_hex(4))) {}
  ~PgPrivateCluster() {
    service("stop");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::remove(err_path(), ec);
  }
  PgPrivateCluster(const PgPrivateCluster&) = delete;
  PgPrivateCluster& operator=(const PgPrivateCluster&) = delete;

  // Starts (or restarts, on the same port and data) and waits until it answers.
  bool start() { return service("start"); }
  bool stop() { return service("stop"); }
  std::string port() const {
    std::ifstream in(dir_ / "port");
    std::string p;
    in >> p;
    return p;
  }
  std::string url() const { return "postgresql://postgres@127.0.0.1:" + port() + "/postgres"; }
  // What pg-service.sh said on stderr, for a failed start.
  std::string errors() const {
    std::ifstream in(err_path());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string err_path() const { return dir_.string() + ".err"; }
  bool service(const std::string& verb) {
    std::string cmd = std::string(CORRAL_SOURCE_DIR) + "/scripts/pg-service.sh " + verb + " '" +
                      dir_.string() + "' >/dev/null 2>>'" + err_path() + "'";
    return std::system(cmd.c_str()) == 0;
  }

  std::filesystem::path dir_;
};

}  // namespace corral::testing

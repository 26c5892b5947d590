// The Store conformance suites run once per backend: a test fixture derives from
// StoreBackendTest and is instantiated with kStoreBackends, so every test runs against
// SQLite (a temporary directory) and PostgreSQL (a fresh schema on CORRAL_TEST_PG, skipped
// without it; see tests/common/pg_test_db.h).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/crypto.h"
#include "common/pg_test_db.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace corral::testing {

inline const auto kStoreBackends =
    ::testing::Values(std::string("sqlite"), std::string("postgres"));

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

class StoreBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (postgres()) {
      pg_db_ = std::make_unique<PgTestDatabase>(PgTestDatabase::Isolation::kSchema);
      if (!pg_db_->configured()) GTEST_SKIP() << kPgSkipMessage;
      ASSERT_FALSE(pg_db_->url().empty()) << pg_db_->error();
    } else {
      dir_ = std::filesystem::temp_directory_path() / ("corral-store-" + random_hex(6));
      std::filesystem::create_directories(dir_);
    }
    auto opened = open_store();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened.value());
  }
  void TearDown() override {
    store_.reset();
    pg_db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool postgres() const { return GetParam() == "postgres"; }

  // A store on this test's database (SQLite file or PostgreSQL database).
  Result<std::unique_ptr<Store>> open_store(int64_t log_max_bytes = 64 * 1024 * 1024) {
    if (postgres()) {
      PostgresStoreOptions options;
      options.url = pg_db_->url();
      options.log_max_bytes = log_max_bytes;
      auto opened = PostgresStore::open(options);
      if (!opened.ok()) return opened.error();
      return std::unique_ptr<Store>(std::move(opened.value()));
    }
    SqliteStoreOptions options;
    options.path = (dir_ / "corral.db").string();
    options.synchronous_full = false;
    options.log_max_bytes = log_max_bytes;
    auto opened = SqliteStore::open(options);
    if (!opened.ok()) return opened.error();
    return std::unique_ptr<Store>(std::move(opened.value()));
  }

  // Closes the store and opens it again on the same data (e.g. with other options).
  void reopen(int64_t log_max_bytes = 64 * 1024 * 1024) {
    store_.reset();
    auto opened = open_store(log_max_bytes);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened.value());
  }

  // Rows in a table, read through a connection of its own (not the store's API): what the
  // store really keeps.
  int64_t count_rows(const std::string& table, const std::string& where = "TRUE") {
    std::string sql = "SELECT COUNT(*) FROM " + table + " WHERE " + where;
    if (postgres()) {
      auto conn = pg::Connection::open(pg_db_->url());
      if (!conn.ok()) return -1;
      return (*conn)->query(sql).front().int64(0);
    }
    sqlite::Db db((dir_ / "corral.db").string());
    auto st = db.prepare(sql);
    st.step();
    return st.int64(0);
  }

  std::filesystem::path dir_;              // SQLite: the database's directory
  std::unique_ptr<PgTestDatabase> pg_db_;  // PostgreSQL: this test's database
  std::unique_ptr<Store> store_;
};

}  // namespace corral::testing

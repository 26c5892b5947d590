// Which Store a server runs on, from one setting (`corral server --store`, CORRAL_STORE):
//
//   "" or "sqlite"                 SQLite in DATA_DIR/corral.db (the default)
//   "sqlite:///abs/path.db"        SQLite in that file (its logs in a "logs" dir beside it)
//   "postgres://..." or
//   "postgresql://..."             PostgreSQL through libpq:
//   user[:password]@host[:port]/db[?params]
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/store.h"

namespace corral {

// The accepted forms, for error messages and --help.
inline constexpr const char* kStoreForms =
    "'sqlite' (DATA_DIR/corral.db, the default), 'sqlite:///abs/path.db', "
    "'postgres://user@host[:port]/db' or 'postgresql://...'";

struct StoreLocation {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string target;  // SQLite: the database file; PostgreSQL: the URL
};

// kBadRequest, naming the accepted forms, for anything else.
Result<StoreLocation> parse_store_location(const std::string& value, const std::string& data_dir);

struct OpenStoreOptions {
  std::string store;     // the setting above
  std::string data_dir;  // for the default SQLite location
  bool sqlite_synchronous_full = true;
  int64_t log_max_bytes = 64 * 1024 * 1024;
  int postgres_pool_size = 8;
};

// Opens (and migrates) the store the setting names.
Result<std::unique_ptr<Store>> open_store(const OpenStoreOptions& options);

}  // namespace corral

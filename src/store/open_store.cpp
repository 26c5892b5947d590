#include "store/open_store.h"

#include <filesystem>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace corral {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

Error bad_store(const std::string& value, const std::string& why) {
  return make_error(ErrorCode::kBadRequest,
                    "--store / CORRAL_STORE '" + value + "' " + why + "; use " + kStoreForms);
}

}  // namespace

Result<StoreLocation> parse_store_location(const std::string& value, const std::string& data_dir) {
  if (value.empty() || value == "sqlite") {
    return StoreLocation{StoreLocation::Kind::kSqlite,
                         (std::filesystem::path(data_dir) / "corral.db").string()};
  }
  if (starts_with(value, "sqlite://")) {
    std::string path = value.substr(std::string("sqlite://").size());
    if (path.empty() || path[0] != '/' || path == "/") {
      return bad_store(value, "needs an absolute file path after sqlite:// (three slashes in all)");
    }
    return StoreLocation{StoreLocation::Kind::kSqlite, path};
  }
  if (starts_with(value, "postgres://") || starts_with(value, "postgresql://")) {
    auto rest = value.substr(value.find("://") + 3);
    if (rest.empty()) return bad_store(value, "names no database server");
    return StoreLocation{StoreLocation::Kind::kPostgres, value};
  }
  // Never echo what might be a URL with a password in it.
  if (value.find('@') != std::string::npos)
    return bad_store("(hidden)", "is not a store corral knows");
  return bad_store(value, "is not a store corral knows");
}

Result<std::unique_ptr<Store>> open_store(const OpenStoreOptions& options) {
  auto location = parse_store_location(options.store, options.data_dir);
  if (!location.ok()) return location.error();
  if (location->kind == StoreLocation::Kind::kPostgres) {
    PostgresStoreOptions pg;
    pg.url = location->target;
    pg.pool_size = options.postgres_pool_size;
    pg.log_max_bytes = options.log_max_bytes;
    auto store = PostgresStore::open(pg);
    if (!store.ok()) return store.error();
    return std::unique_ptr<Store>(std::move(store.value()));
  }
  SqliteStoreOptions sqlite;
  sqlite.path = location->target;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(sqlite.path).parent_path(), ec);
  if (ec)
    return make_error(ErrorCode::kIo,
                      "cannot create the directory of " + sqlite.path + ": " + ec.message());
  sqlite.synchronous_full = options.sqlite_synchronous_full;
  sqlite.log_dir = (std::filesystem::path(sqlite.path).parent_path() / "logs").string();
  sqlite.log_max_bytes = options.log_max_bytes;
  auto store = SqliteStore::open(sqlite);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(store.value()));
}

}  // namespace corral

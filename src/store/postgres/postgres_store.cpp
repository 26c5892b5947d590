// PostgresStore: opening (migrations), and the shared methods instantiated on PostgreSQL.
#include "store/postgres/postgres_store.h"

#include <spdlog/spdlog.h>

#include "store/postgres/migrations.h"
#include "store/postgres/rows.h"
#include "store/sql_store_impl.h"

namespace corral {

PostgresStore::PostgresStore(PostgresStoreOptions options)
    : options_(std::move(options)),
      pool_(pg::PoolOptions{options_.url, options_.pool_size, options_.acquire_timeout}) {}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const PostgresStoreOptions& options) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  auto lease = store->pool_.acquire();
  if (!lease.ok()) return lease.error();
  try {
    int version = pg::migrate(**lease);
    spdlog::debug("postgres store {} at schema version {}", store->pool_.name(), version);
  } catch (const pg::PgError& e) {
    return pg::to_error(e);
  }
  return store;
}

// The methods both stores share (store/sql_store_impl.h), on PostgreSQL's connections.
template class SqlStore<PostgresStore, pg::Connection>;

}  // namespace corral

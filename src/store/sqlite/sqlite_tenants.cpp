// SqliteStore: tenant settings (the tenant_settings table, migration 8).
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;

namespace {

TenantSettings load_tenant_settings(Db& db, const std::string& tenant) {
  TenantSettings settings;
  settings.tenant = tenant;
  auto st = db.prepare(
      "SELECT refresh_timezone, updated_at, updated_by FROM tenant_settings WHERE tenant = ?");
  st.bind_all(tenant);
  if (st.step()) {
    settings.refresh_timezone = st.text(0);
    settings.updated_at = st.int64(1);
    settings.updated_by = st.text(2);
  }
  return settings;
}

}  // namespace

Result<TenantSettings> SqliteStore::get_tenant_settings(const std::string& tenant) {
  return read<TenantSettings>(
      [&](Db& db) -> Result<TenantSettings> { return load_tenant_settings(db, tenant); });
}

Result<TenantSettings> SqliteStore::put_tenant_settings(const TenantSettings& settings) {
  return write<TenantSettings>([&](Db& db) -> Result<TenantSettings> {
    db.prepare(
          "INSERT INTO tenant_settings (tenant, refresh_timezone, updated_at, updated_by)"
          " VALUES (?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET"
          " refresh_timezone = excluded.refresh_timezone, updated_at = excluded.updated_at,"
          " updated_by = excluded.updated_by")
        .bind_all(settings.tenant, settings.refresh_timezone, settings.updated_at,
                  settings.updated_by)
        .exec();
    return load_tenant_settings(db, settings.tenant);
  });
}

Result<std::map<std::string, std::string>> SqliteStore::tenant_refresh_timezones() {
  return read<std::map<std::string, std::string>>(
      [&](Db& db) -> Result<std::map<std::string, std::string>> {
        auto st = db.prepare(
            "SELECT tenant, refresh_timezone FROM tenant_settings WHERE refresh_timezone != ''");
        std::map<std::string, std::string> out;
        while (st.step()) out[st.text(0)] = st.text(1);
        return out;
      });
}

}  // namespace corral

// PostgresStore: tenant settings (the tenant_settings table, migration 9).
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"

namespace corral {

using pg::Connection;

namespace {

TenantSettings tenant_settings_from_row(const pg::Row& row) {
  TenantSettings settings;
  settings.tenant = row.text(0);
  settings.refresh_timezone = row.text(1);
  settings.updated_at = row.int64(2);
  settings.updated_by = row.text(3);
  return settings;
}

}  // namespace

Result<TenantSettings> PostgresStore::get_tenant_settings(const std::string& tenant) {
  return run<TenantSettings>([&](Connection& c) -> Result<TenantSettings> {
    auto rows = c.query(
        "SELECT tenant, refresh_timezone, updated_at, updated_by FROM tenant_settings"
        " WHERE tenant = $1",
        tenant);
    if (rows.empty()) {
      TenantSettings defaults;
      defaults.tenant = tenant;
      return defaults;
    }
    return tenant_settings_from_row(rows.front());
  });
}

Result<TenantSettings> PostgresStore::put_tenant_settings(const TenantSettings& settings) {
  return run<TenantSettings>([&](Connection& c) -> Result<TenantSettings> {
    auto rows = c.query(
        "INSERT INTO tenant_settings (tenant, refresh_timezone, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant) DO UPDATE SET"
        " refresh_timezone = excluded.refresh_timezone, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by"
        " RETURNING tenant, refresh_timezone, updated_at, updated_by",
        settings.tenant, settings.refresh_timezone, settings.updated_at, settings.updated_by);
    return tenant_settings_from_row(rows.front());
  });
}

Result<std::map<std::string, std::string>> PostgresStore::tenant_refresh_timezones() {
  return run<std::map<std::string, std::string>>(
      [&](Connection& c) -> Result<std::map<std::string, std::string>> {
        auto rows = c.query(
            "SELECT tenant, refresh_timezone FROM tenant_settings WHERE refresh_timezone != ''");
        std::map<std::string, std::string> out;
        for (int i = 0; i < rows.size(); ++i) out[rows[i].text(0)] = rows[i].text(1);
        return out;
      });
}

}  // namespace corral

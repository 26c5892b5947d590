// PostgresStore: repository mappings (the repos table, migration 5).
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/shared_sql.h"

namespace corral {

using pg::Connection;

namespace {

// A macro so the statements below are single literals (GCC 12 warns falsely on string +).
#define CORRAL_REPO_COLUMNS                                                                     \
  "tenant, full_name, grp, steward_runner, steward_group, created_at, updated_at, updated_by, " \
  "clone_url,"                                                                                  \
  " last_auto_refresh_at"

RepoMapping repo_from_row(const pg::Row& row) {
  RepoMapping r;
  r.tenant = row.text(0);
  r.full_name = row.text(1);
  r.group = row.text(2);
  r.steward_runner = row.text(3);
  r.steward_group = row.text(4);
  r.created_at = row.int64(5);
  r.updated_at = row.int64(6);
  r.updated_by = row.text(7);
  r.clone_url = row.text(8);
  r.last_auto_refresh_at = row.int64(9);
  return r;
}

}  // namespace

namespace pg {

std::optional<RepoMapping> load_repo(Connection& c, const std::string& tenant, const std::string& full_name) {
  auto rows = c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 AND full_name = $2",
                      tenant, full_name);
  if (rows.empty()) return std::nullopt;
  return repo_from_row(rows.front());
}

}  // namespace pg

Result<RepoMapping> PostgresStore::put_repo(const RepoMapping& repo) {
  return tx<RepoMapping>([&](Connection& c) -> Result<RepoMapping> {
    auto rows =
        c.query("INSERT INTO repos (" CORRAL_REPO_COLUMNS
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (tenant, full_name) DO UPDATE SET grp = excluded.grp,"
                " steward_runner = excluded.steward_runner, steward_group = excluded.steward_group,"
                " updated_at = excluded.updated_at, updated_by = excluded.updated_by,"
                " clone_url = excluded.clone_url RETURNING " CORRAL_REPO_COLUMNS,
                repo.tenant, repo.full_name, repo.group, repo.steward_runner, repo.steward_group,
                repo.created_at, repo.updated_at, repo.updated_by, repo.clone_url,
                repo.last_auto_refresh_at);
    return repo_from_row(rows.front());
  });
}

Result<std::vector<RepoMapping>> PostgresStore::list_repos(const std::string& tenant) {
  return run<std::vector<RepoMapping>>([&](Connection& c) -> Result<std::vector<RepoMapping>> {
    auto rows = c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 ORDER BY full_name", tenant);
    std::vector<RepoMapping> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(repo_from_row(rows[i]));
    return out;
  });
}

Result<std::optional<RepoMapping>> PostgresStore::find_repo(const std::string& tenant, const std::string& full_name) {
  return run<std::optional<RepoMapping>>(
      [&](Connection& c) -> Result<std::optional<RepoMapping>> { return pg::load_repo(c, tenant, full_name); });
}

Result<std::vector<RepoMapping>> PostgresStore::stewarded_repos() {
  return run<std::vector<RepoMapping>>([&](Connection& c) -> Result<std::vector<RepoMapping>> {
    auto rows =
        c.query("SELECT " CORRAL_REPO_COLUMNS
                " FROM repos"
                " WHERE steward_runner != '' OR steward_group != '' ORDER BY tenant, full_name");
    std::vector<RepoMapping> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(repo_from_row(rows[i]));
    return out;
  });
}

Result<void> PostgresStore::mark_auto_refresh(const std::string& tenant,
                                              const std::string& full_name, TimeMs now) {
  return run<void>([&](Connection& c) -> Result<void> {
    c.query(
        "UPDATE repos SET last_auto_refresh_at = GREATEST(last_auto_refresh_at, $1)"
        " WHERE tenant = $2 AND full_name = $3",
        now, tenant, full_name);
    return {};
  });
}

Result<RepoMapping> PostgresStore::delete_repo(const std::string& tenant, const std::string& full_name) {
  return tx<RepoMapping>([&](Connection& c) -> Result<RepoMapping> {
    auto rows = c.query("DELETE FROM repos WHERE tenant = $1 AND full_name = $2 RETURNING " CORRAL_REPO_COLUMNS, tenant,
                        full_name);
    if (rows.empty()) return no_repo(full_name);
    return repo_from_row(rows.front());
  });
}

}  // namespace corral

// PostgresStore: repository mappings (the repos table, migration 5).
#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/shared_sql.h"

namespace corral {

using pg::Connection;

namespace pg {

std::optional<RepoMapping> load_repo(Connection& c, const std::string& tenant,
                                     const std::string& full_name) {
  auto rows =
      c.query("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 AND full_name = $2",
              tenant, full_name);
  if (rows.empty()) return std::nullopt;
  return repo_from_row(rows.front());
}

}  // namespace pg

Result<RepoMapping> PostgresStore::put_repo(const RepoMapping& repo) {
  return tx<RepoMapping>([&](Connection& c) -> Result<RepoMapping> {
    auto rows = c.query(
        "INSERT INTO repos (" CORRAL_REPO_COLUMNS
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (tenant, full_name) DO UPDATE SET grp = excluded.grp,"
        " steward_runner = excluded.steward_runner, steward_group = excluded.steward_group,"
        " updated_at = excluded.updated_at, updated_by = excluded.updated_by,"
        " clone_url = excluded.clone_url, webhook_secret = CASE WHEN $12::int = 1 THEN"
        " excluded.webhook_secret ELSE repos.webhook_secret END RETURNING " CORRAL_REPO_COLUMNS,
        repo.tenant, repo.full_name, repo.group, repo.steward_runner, repo.steward_group,
        repo.created_at, repo.updated_at, repo.updated_by, repo.clone_url,
        repo.last_auto_refresh_at, repo.webhook_secret, repo.webhook_secret_given ? 1 : 0);
    return repo_from_row(rows.front());
  });
}

Result<std::vector<RepoMapping>> PostgresStore::list_repos(const std::string& tenant) {
  return run<std::vector<RepoMapping>>([&](Connection& c) -> Result<std::vector<RepoMapping>> {
    auto rows = c.query(
        "SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = $1 ORDER BY full_name", tenant);
    std::vector<RepoMapping> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(repo_from_row(rows[i]));
    return out;
  });
}

Result<std::optional<RepoMapping>> PostgresStore::find_repo(const std::string& tenant,
                                                            const std::string& full_name) {
  return run<std::optional<RepoMapping>>([&](Connection& c) -> Result<std::optional<RepoMapping>> {
    return pg::load_repo(c, tenant, full_name);
  });
}

Result<std::vector<RepoMapping>> PostgresStore::repos_with_webhook(const std::string& full_name) {
  return run<std::vector<RepoMapping>>([&](Connection& c) -> Result<std::vector<RepoMapping>> {
    auto rows = c.query("SELECT " CORRAL_REPO_COLUMNS
                        " FROM repos WHERE full_name = $1 AND webhook_secret != '' ORDER BY tenant",
                        full_name);
    std::vector<RepoMapping> out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(repo_from_row(rows[i]));
    return out;
  });
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

Result<RepoMapping> PostgresStore::delete_repo(const std::string& tenant,
                                               const std::string& full_name) {
  return tx<RepoMapping>([&](Connection& c) -> Result<RepoMapping> {
    auto rows = c.query(
        "DELETE FROM repos WHERE tenant = $1 AND full_name = $2 RETURNING " CORRAL_REPO_COLUMNS,
        tenant, full_name);
    if (rows.empty()) return no_repo(full_name);
    return repo_from_row(rows.front());
  });
}

}  // namespace corral

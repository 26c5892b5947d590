// SqliteStore: repository mappings (the repos table, migration 5).
#include "store/shared_sql.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;
using sqlite::Stmt;

namespace sqlite {

std::optional<RepoMapping> load_repo(Db& db, const std::string& tenant,
                                     const std::string& full_name) {
  auto st =
      db.prepare("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = ? AND full_name = ?");
  st.bind_all(tenant, full_name);
  if (!st.step()) return std::nullopt;
  return repo_from_row(st);
}

}  // namespace sqlite

Result<RepoMapping> SqliteStore::put_repo(const RepoMapping& repo) {
  return write<RepoMapping>([&](Db& db) -> Result<RepoMapping> {
    db.prepare("INSERT INTO repos (" CORRAL_REPO_COLUMNS
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
               " ON CONFLICT (tenant, full_name) DO UPDATE SET grp = excluded.grp,"
               " steward_runner = excluded.steward_runner, steward_group = excluded.steward_group,"
               " updated_at = excluded.updated_at, updated_by = excluded.updated_by,"
               " clone_url = excluded.clone_url, webhook_secret = CASE WHEN ?12 = 1 THEN"
               " excluded.webhook_secret ELSE repos.webhook_secret END")
        .bind_all(repo.tenant, repo.full_name, repo.group, repo.steward_runner, repo.steward_group,
                  repo.created_at, repo.updated_at, repo.updated_by, repo.clone_url,
                  repo.last_auto_refresh_at, repo.webhook_secret, repo.webhook_secret_given ? 1 : 0)
        .exec();
    return *sqlite::load_repo(db, repo.tenant, repo.full_name);
  });
}

Result<std::vector<RepoMapping>> SqliteStore::list_repos(const std::string& tenant) {
  return read<std::vector<RepoMapping>>([&](Db& db) -> Result<std::vector<RepoMapping>> {
    auto st =
        db.prepare("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = ? ORDER BY full_name");
    st.bind_all(tenant);
    std::vector<RepoMapping> out;
    while (st.step()) out.push_back(repo_from_row(st));
    return out;
  });
}

Result<std::optional<RepoMapping>> SqliteStore::find_repo(const std::string& tenant,
                                                          const std::string& full_name) {
  return read<std::optional<RepoMapping>>([&](Db& db) -> Result<std::optional<RepoMapping>> {
    return sqlite::load_repo(db, tenant, full_name);
  });
}

Result<std::vector<RepoMapping>> SqliteStore::repos_with_webhook(const std::string& full_name) {
  return read<std::vector<RepoMapping>>([&](Db& db) -> Result<std::vector<RepoMapping>> {
    auto st =
        db.prepare("SELECT " CORRAL_REPO_COLUMNS
                   " FROM repos WHERE full_name = ? AND webhook_secret != '' ORDER BY tenant");
    st.bind_all(full_name);
    std::vector<RepoMapping> out;
    while (st.step()) out.push_back(repo_from_row(st));
    return out;
  });
}

Result<std::vector<RepoMapping>> SqliteStore::stewarded_repos() {
  return read<std::vector<RepoMapping>>([&](Db& db) -> Result<std::vector<RepoMapping>> {
    auto st =
        db.prepare("SELECT " CORRAL_REPO_COLUMNS
                   " FROM repos"
                   " WHERE steward_runner != '' OR steward_group != '' ORDER BY tenant, full_name");
    std::vector<RepoMapping> out;
    while (st.step()) out.push_back(repo_from_row(st));
    return out;
  });
}

Result<void> SqliteStore::mark_auto_refresh(const std::string& tenant, const std::string& full_name,
                                            TimeMs now) {
  return write<void>([&](Db& db) -> Result<void> {
    db.prepare(
          "UPDATE repos SET last_auto_refresh_at = MAX(last_auto_refresh_at, ?)"
          " WHERE tenant = ? AND full_name = ?")
        .bind_all(now, tenant, full_name)
        .exec();
    return {};
  });
}

Result<RepoMapping> SqliteStore::delete_repo(const std::string& tenant,
                                             const std::string& full_name) {
  return write<RepoMapping>([&](Db& db) -> Result<RepoMapping> {
    auto repo = sqlite::load_repo(db, tenant, full_name);
    if (!repo) return no_repo(full_name);
    db.prepare("DELETE FROM repos WHERE tenant = ? AND full_name = ?")
        .bind_all(tenant, full_name)
        .exec();
    return *repo;
  });
}

}  // namespace corral

// SqliteStore: repository mappings (the repos table, migration 5).
#include "store/shared_sql.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;
using sqlite::Stmt;

namespace {

// A macro so the statements below are single literals (GCC 12 warns falsely on string +).
#define CORRAL_REPO_COLUMNS                                                                     \
  "tenant, full_name, grp, steward_runner, steward_group, created_at, updated_at, updated_by, " \
  "clone_url,"                                                                                  \
  " last_auto_refresh_at"

RepoMapping repo_from_row(const Stmt& st) {
  RepoMapping r;
  r.tenant = st.text(0);
  r.full_name = st.text(1);
  r.group = st.text(2);
  r.steward_runner = st.text(3);
  r.steward_group = st.text(4);
  r.created_at = st.int64(5);
  r.updated_at = st.int64(6);
  r.updated_by = st.text(7);
  r.clone_url = st.text(8);
  r.last_auto_refresh_at = st.int64(9);
  return r;
}

}  // namespace

namespace sqlite {

std::optional<RepoMapping> load_repo(Db& db, const std::string& tenant, const std::string& full_name) {
  auto st = db.prepare("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = ? AND full_name = ?");
  st.bind_all(tenant, full_name);
  if (!st.step()) return std::nullopt;
  return repo_from_row(st);
}

}  // namespace sqlite

Result<RepoMapping> SqliteStore::put_repo(const RepoMapping& repo) {
  return write<RepoMapping>([&](Db& db) -> Result<RepoMapping> {
    db.prepare("INSERT INTO repos (" CORRAL_REPO_COLUMNS
               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
               " ON CONFLICT (tenant, full_name) DO UPDATE SET grp = excluded.grp,"
               " steward_runner = excluded.steward_runner, steward_group = excluded.steward_group,"
               " updated_at = excluded.updated_at, updated_by = excluded.updated_by,"
               " clone_url = excluded.clone_url")
        .bind_all(repo.tenant, repo.full_name, repo.group, repo.steward_runner, repo.steward_group,
                  repo.created_at, repo.updated_at, repo.updated_by, repo.clone_url,
                  repo.last_auto_refresh_at)
        .exec();
    return *sqlite::load_repo(db, repo.tenant, repo.full_name);
  });
}

Result<std::vector<RepoMapping>> SqliteStore::list_repos(const std::string& tenant) {
  return read<std::vector<RepoMapping>>([&](Db& db) -> Result<std::vector<RepoMapping>> {
    auto st = db.prepare("SELECT " CORRAL_REPO_COLUMNS " FROM repos WHERE tenant = ? ORDER BY full_name");
    st.bind_all(tenant);
    std::vector<RepoMapping> out;
    while (st.step()) out.push_back(repo_from_row(st));
    return out;
  });
}

Result<std::optional<RepoMapping>> SqliteStore::find_repo(const std::string& tenant, const std::string& full_name) {
  return read<std::optional<RepoMapping>>(
      [&](Db& db) -> Result<std::optional<RepoMapping>> { return sqlite::load_repo(db, tenant, full_name); });
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

Result<RepoMapping> SqliteStore::delete_repo(const std::string& tenant, const std::string& full_name) {
  return write<RepoMapping>([&](Db& db) -> Result<RepoMapping> {
    auto repo = sqlite::load_repo(db, tenant, full_name);
    if (!repo) return no_repo(full_name);
    db.prepare("DELETE FROM repos WHERE tenant = ? AND full_name = ?").bind_all(tenant, full_name).exec();
    return *repo;
  });
}

}  // namespace corral

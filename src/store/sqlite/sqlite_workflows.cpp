// SqliteStore: workflow runs (the workflow_runs table, migration 12). The statements are
// shared with PostgresStore (store/shared_sql.h).
#include <limits>

#include "store/shared_sql.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/transact.h"

namespace corral {

using sqlite::Db;

namespace {

std::string secrets_text(const WorkflowRunRecord& run) {
  if (workflow_run_finished(run.state)) return "{}";
  return json(run.secrets).dump();
}

}  // namespace

Result<void> SqliteStore::insert_workflow_run(const WorkflowRunRecord& run) {
  return write<void>([&](Db& db) -> Result<void> {
    db.prepare(sqlite::numbered_params(kInsertWorkflowRun))
        .bind_all(run.id, run.tenant, run.owner_token_id, run.name, run.state, run.event,
                  run.delivery, run.version, run.created_at, run.updated_at, run.finished_at,
                  run.doc.dump(), secrets_text(run))
        .exec();
    if (db.changes() == 0) {
      return make_error(ErrorCode::kConflict, "a workflow run of delivery '" + run.delivery +
                                                  "' (or id " + run.id + ") exists already");
    }
    return {};
  });
}

Result<std::optional<WorkflowRunRecord>> SqliteStore::get_workflow_run(const std::string& tenant,
                                                                       const std::string& id) {
  using Found = std::optional<WorkflowRunRecord>;
  return read<Found>([&](Db& db) -> Result<Found> {
    auto st = db.prepare(std::string("SELECT ") + kWorkflowRunColumns +
                         " FROM workflow_runs WHERE tenant = ? AND id = ?");
    st.bind_all(tenant, id);
    if (!st.step()) return Found();
    return Found(workflow_run_from_row(st));
  });
}

Result<std::optional<WorkflowRunRecord>> SqliteStore::find_workflow_run_by_delivery(
    const std::string& tenant, const std::string& delivery) {
  using Found = std::optional<WorkflowRunRecord>;
  return read<Found>([&](Db& db) -> Result<Found> {
    auto st = db.prepare(std::string("SELECT ") + kWorkflowRunColumns +
                         " FROM workflow_runs WHERE tenant = ? AND delivery = ?");
    st.bind_all(tenant, delivery);
    if (!st.step()) return Found();
    return Found(workflow_run_from_row(st));
  });
}

Result<std::vector<WorkflowRunRecord>> SqliteStore::list_workflow_runs(
    const std::string& tenant, int limit, TimeMs before_created_at, const std::string& before_id) {
  using Runs = std::vector<WorkflowRunRecord>;
  return read<Runs>([&](Db& db) -> Result<Runs> {
    auto st = db.prepare(sqlite::numbered_params(kListWorkflowRuns));
    bool first = before_created_at == 0;
    st.bind_all(tenant, first ? std::numeric_limits<TimeMs>::max() : before_created_at,
                first ? std::string() : before_id, limit);
    Runs out;
    while (st.step()) out.push_back(workflow_run_from_row(st));
    return out;
  });
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::active_workflow_runs() {
  using Ids = std::vector<std::pair<std::string, std::string>>;
  return read<Ids>([&](Db& db) -> Result<Ids> {
    auto st = db.prepare(
        "SELECT tenant, id FROM workflow_runs WHERE state IN ('queued', 'running')"
        " ORDER BY created_at");
    Ids out;
    while (st.step()) out.emplace_back(st.text(0), st.text(1));
    return out;
  });
}

Result<bool> SqliteStore::update_workflow_run(const WorkflowRunRecord& run) {
  return write<bool>([&](Db& db) -> Result<bool> {
    db.prepare(sqlite::numbered_params(kUpdateWorkflowRun))
        .bind_all(run.name, run.state, run.updated_at, run.finished_at, run.doc.dump(),
                  secrets_text(run), run.tenant, run.id, run.version)
        .exec();
    return db.changes() > 0;
  });
}

}  // namespace corral

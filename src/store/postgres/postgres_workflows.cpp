// PostgresStore: workflow runs (the workflow_runs table, migration 13). The statements are
// shared with SqliteStore (store/shared_sql.h); the version check in kUpdateWorkflowRun keeps
// two servers advancing one run from overwriting each other.
#include <limits>

#include "store/postgres/postgres_store.h"
#include "store/shared_sql.h"

namespace corral {

using pg::Connection;

namespace {

std::string run_secrets_text(const WorkflowRunRecord& run) {
  if (workflow_run_finished(run.state)) return "{}";
  return json(run.secrets).dump();
}

}  // namespace

Result<void> PostgresStore::insert_workflow_run(const WorkflowRunRecord& run) {
  return tx<void>([&](Connection& c) -> Result<void> {
    auto rows = c.query(kInsertWorkflowRun, run.id, run.tenant, run.owner_token_id, run.name,
                        run.state, run.event, run.delivery, run.version, run.created_at,
                        run.updated_at, run.finished_at, run.doc.dump(), run_secrets_text(run));
    if (rows.affected() == 0) {
      return make_error(ErrorCode::kConflict, "a workflow run of delivery '" + run.delivery +
                                                  "' (or id " + run.id + ") exists already");
    }
    return {};
  });
}

Result<std::optional<WorkflowRunRecord>> PostgresStore::get_workflow_run(const std::string& tenant,
                                                                         const std::string& id) {
  using Found = std::optional<WorkflowRunRecord>;
  return run<Found>([&](Connection& c) -> Result<Found> {
    auto rows = c.query(std::string("SELECT ") + kWorkflowRunColumns +
                            " FROM workflow_runs WHERE tenant = $1 AND id = $2",
                        tenant, id);
    if (rows.empty()) return Found();
    return Found(workflow_run_from_row(rows.front()));
  });
}

Result<std::optional<WorkflowRunRecord>> PostgresStore::find_workflow_run_by_delivery(
    const std::string& tenant, const std::string& delivery) {
  using Found = std::optional<WorkflowRunRecord>;
  return run<Found>([&](Connection& c) -> Result<Found> {
    auto rows = c.query(std::string("SELECT ") + kWorkflowRunColumns +
                            " FROM workflow_runs WHERE tenant = $1 AND delivery = $2",
                        tenant, delivery);
    if (rows.empty()) return Found();
    return Found(workflow_run_from_row(rows.front()));
  });
}

Result<std::vector<WorkflowRunRecord>> PostgresStore::list_workflow_runs(
    const std::string& tenant, int limit, TimeMs before_created_at, const std::string& before_id) {
  using Runs = std::vector<WorkflowRunRecord>;
  return run<Runs>([&](Connection& c) -> Result<Runs> {
    bool first = before_created_at == 0;
    auto rows = c.query(kListWorkflowRuns, tenant,
                        first ? std::numeric_limits<TimeMs>::max() : before_created_at,
                        first ? std::string() : before_id, limit);
    Runs out;
    for (int i = 0; i < rows.size(); ++i) out.push_back(workflow_run_from_row(rows[i]));
    return out;
  });
}

Result<std::vector<std::pair<std::string, std::string>>> PostgresStore::active_workflow_runs() {
  using Ids = std::vector<std::pair<std::string, std::string>>;
  return run<Ids>([&](Connection& c) -> Result<Ids> {
    auto rows = c.query(
        "SELECT tenant, id FROM workflow_runs WHERE state IN ('queued', 'running')"
        " ORDER BY created_at");
    Ids out;
    for (int i = 0; i < rows.size(); ++i) out.emplace_back(rows[i].text(0), rows[i].text(1));
    return out;
  });
}

Result<bool> PostgresStore::update_workflow_run(const WorkflowRunRecord& run) {
  return tx<bool>([&](Connection& c) -> Result<bool> {
    auto rows = c.query(kUpdateWorkflowRun, run.name, run.state, run.updated_at, run.finished_at,
                        run.doc.dump(), run_secrets_text(run), run.tenant, run.id, run.version);
    return rows.affected() > 0;
  });
}

}  // namespace corral

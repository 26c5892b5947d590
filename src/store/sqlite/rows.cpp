#include "store/sqlite/rows.h"

namespace corral::sqlite {

std::optional<Runner> load_runner(Db& db, const std::string& id) {
  std::optional<Runner> runner;
  {
    auto st = db.prepare(std::string("SELECT ") + kRunnerColumns + " FROM runners WHERE id = ?");
    st.bind_all(id);
    if (st.step()) runner = runner_from_row(st);
  }
  if (!runner) return runner;
  auto st = db.prepare(
      "SELECT job_id, attempt FROM attempts WHERE runner_id = ? AND state IN ('leased', 'running')"
      " ORDER BY claimed_at");
  st.bind_all(id);
  while (st.step()) runner->running.push_back({st.text(0), st.integer(1)});
  return runner;
}

}  // namespace corral::sqlite

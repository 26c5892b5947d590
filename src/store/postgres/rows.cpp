#include "store/postgres/rows.h"

namespace corral::pg {

std::optional<Runner> load_runner(Connection& c, const std::string& id) {
  // The runner and what it runs, in one statement (one snapshot, one round trip).
  auto rows = c.query(std::string("SELECT ") + kRunnerColumns +
                          ", (SELECT COALESCE(json_agg(json_build_array(a.job_id, a.attempt)"
                          "   ORDER BY a.claimed_at, a.job_id), '[]') FROM attempts a"
                          "   WHERE a.runner_id = runners.id AND a.state IN ('leased', 'running'))"
                          " FROM runners WHERE id = $1",
                      id);
  if (rows.empty()) return std::nullopt;
  Runner runner = runner_from_row(rows.front());
  for (const auto& a : json::parse(rows.front().text(kRunnerColumnCount))) {
    runner.running.push_back({a.at(0).get<std::string>(), a.at(1).get<int>()});
  }
  return runner;
}

}  // namespace corral::pg

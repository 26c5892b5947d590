#include "api/ados.h"

#include <cmath>

namespace corral {

namespace {

// A job limit the runner reported at registration (capabilities.policy), or 0 when none.
double ados_policy_limit(const Runner& runner, const char* key) {
  const json& caps = runner.reg.capabilities;
  if (!caps.is_object() || !caps.contains("policy") || !caps["policy"].is_object()) return 0;
  const json& policy = caps["policy"];
  if (!policy.contains(key) || !policy[key].is_number()) return 0;
  double limit = policy[key].get<double>();
  return limit > 0 ? limit : 0;
}

}  // namespace

json to_ados_json(const Runner& r) {
  std::string status = "connected";
  if (r.status == RunnerStatus::kOffline || !runner_error(r).empty()) {
    status = "offline";  // ADOS has no state for a runner that cannot take work
  } else if (r.status == RunnerStatus::kBusy || !r.running.empty()) {
    status = "busy";
  }
  double cpus = ados_policy_limit(r, "cpus");
  if (cpus <= 0) cpus = r.reg.system.cpus;
  double memory_limit = ados_policy_limit(r, "memory_bytes");
  int64_t memory =
      memory_limit > 0 ? static_cast<int64_t>(memory_limit) : r.reg.system.memory_bytes;
  json cpus_json = cpus == std::floor(cpus) ? json(static_cast<int64_t>(cpus)) : json(cpus);
  return json{{"id", r.reg.name},
              {"group", r.reg.group},
              {"status", status},
              {"hostname", r.reg.system.hostname},
              {"cpus", cpus_json},
              {"memory", memory},
              {"connected_at", time_or_null(r.registered_at)}};
}

}  // namespace corral

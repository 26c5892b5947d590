// ADOS Work Runner's view of a tenant's runners, `GET /api/runners`, so the tools its users
// already have keep working (docs/api.md, "ADOS Work Runner's runner list"):
//
//   [{id, group, status: "connected" | "busy" | "offline", hostname, cpus, memory, connected_at}]
#pragma once

#include "api/types.h"

namespace corral {

// id: the runner's name (what ADOS_RUNNER_ID set); status: offline as corral's, busy while
// it runs jobs (also when draining), connected otherwise (idle, draining); cpus and memory
// (bytes): what a job there may use, DOCKER_CPU_LIMIT and DOCKER_MEMORY_LIMIT (ADOS_CPUS,
// ADOS_MEMORY), or the host's when the runner sets no limit; connected_at: when it last
// registered (RFC 3339).
json to_ados_json(const Runner& runner);

}  // namespace corral

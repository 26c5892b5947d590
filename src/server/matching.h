// Which runner may take which job. Pure functions of the two; the store applies them to
// candidates in queue order, the claim waiters to decide whom to wake.
#pragma once

#include "api/types.h"

namespace corral {

// A job's labels must all be among the runner's; a job with a group goes only to runners of
// that group; a runner's modes (default "all") limit the job types it takes.
bool runner_can_take(const Runner& runner, const Job& job);

}  // namespace corral

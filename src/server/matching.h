// Which runner may take which job. Pure functions of the two; the store applies them to
// candidates in queue order, the claim waiters to decide whom to wake, and `why` to say
// what keeps a job waiting.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"

namespace corral {

// What stands between a runner and a job; empty when the runner may take it.
struct MatchGaps {
  bool other_tenant = false;
  std::vector<std::string> missing_labels;  // the job's labels the runner lacks
  bool wrong_group = false;                 // the job names a group the runner is not in
  bool wrong_mode = false;                  // the runner's modes exclude the job's type
  bool not_owner = false;                   // an owner-only runner, and another user's job

  bool empty() const {
    return !other_tenant && missing_labels.empty() && !wrong_group && !wrong_mode && !not_owner;
  }
  size_t count() const {
    return missing_labels.size() + wrong_group + wrong_mode + not_owner + (other_tenant ? 100 : 0);
  }
};
MatchGaps match_gaps(const Runner& runner, const Job& job);

// A job's labels must all be among the runner's; a job with a group goes only to runners of
// that group; a runner's modes (default "all") limit the job types it takes.
bool runner_can_take(const Runner& runner, const Job& job);

// The runner is of the job's tenant and has all of its labels: what every rule asks first
// (a steward may take another group's jobs, never ones needing labels it lacks).
bool runner_has_labels_of(const Runner& runner, const Job& job);

}  // namespace corral

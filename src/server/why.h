// "Why is my job waiting?" — what holds a queued job, from the job, the tenant's runners and
// its place in the queue. Pure: the handler gathers the facts, this explains them.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "server/steward.h"
#include "store/store.h"

namespace corral {

struct WhyFacts {
  const Job& job;
  const std::vector<Runner>& runners;  // the job's tenant's runners
  QueuePosition position;
  TimeMs now = 0;
  const StewardFacts* steward = nullptr;  // the tenant's steward facts (steward.h), if gathered
};

// {job_id, state, waiting, summary, position, ahead: {higher_priority, older},
//  matching_runners: {total, online, idle, busy, draining, offline, slots_used, slots_total},
//  not_before, reasons: [{code, message, runners?: [...]}]}
// Codes: backoff, no_runners, no_matching_runner, runners_offline, runners_draining,
// runners_busy, behind_higher_priority, behind_older, ready; and for a repository with a
// steward (steward.h): steward_fallback (the steward may take it now), steward_fallback_pending
// (it may once the offline matching runners pass the stale threshold), steward_fallback_not_allowed
// (it would, but the submitter did not allow it), steward_unavailable (no steward runner
// that could run it is registered).
json explain_wait(const WhyFacts& facts);

}  // namespace corral

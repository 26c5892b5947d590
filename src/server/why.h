// "Why is my job waiting?" — what holds a queued job, from the job, the tenant's runners and
// its place in the queue. Pure: the handler gathers the facts, this explains them.
#pragma once

#include <string>
#include <vector>

#include "api/types.h"
#include "server/matching.h"
#include "server/steward.h"
#include "store/store.h"

namespace corral {

// The tenant's runners as a job sees them: those that may take it and how they are doing,
// and the closest of the others. It depends on the job's tenant, labels, group, type and
// submitter only, so the queue page computes it once for jobs alike in those.
struct RunnerFit {
  std::vector<const Runner*> matching;
  std::vector<std::pair<MatchGaps, const Runner*>> closest;  // up to 3, fewest gaps first
  int online = 0, idle = 0, busy = 0, draining = 0, error = 0, offline = 0;
  int slots_used = 0, slots_total = 0;
  std::vector<std::string> in_error;  // "name (why)" of matching runners in state error
};
RunnerFit fit_runners(const Job& job, const std::vector<Runner>& runners);
// What fit_runners reads of a job, as a key: jobs with the same key fit the runners alike.
std::string fit_kind(const Job& job);

struct WhyFacts {
  const Job& job;
  const std::vector<Runner>& runners;  // the job's tenant's runners
  QueuePosition position;
  TimeMs now = 0;
  const StewardFacts* steward = nullptr;  // the tenant's steward facts (steward.h), if gathered
  const RunnerFit* fit = nullptr;  // fit_runners(job, runners), when the caller has it already
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

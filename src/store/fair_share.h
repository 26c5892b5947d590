// Fair share among the submitters (owners) of a tenant's queued jobs, for the stores'
// claims: priority first; among equal priorities the owner with the fewest jobs in flight
// goes next, then the one served least recently (round-robin), then the oldest job. One
// user's flood of 10,000 jobs never holds back another's one for longer than it takes one
// slot to free. (PostgreSQL's one-statement claim orders by the same key in SQL: the
// corral_claim function of its migration 6.)
#pragma once

#include <string>
#include <vector>

#include "api/types.h"

namespace corral {

// A queued job a claim may take; its spec is parsed only if it is taken.
struct ClaimCandidate {
  Job job;
  std::string raw_spec;
};

// One owner's candidates in their queue order (priority, then age).
struct OwnerQueue {
  std::string owner;
  std::vector<ClaimCandidate> jobs;
  size_t next = 0;          // the first not yet taken
  int64_t in_flight = 0;    // the owner's leased and running jobs, plus those taken here
  int64_t last_served = 0;  // when a claim last took one of the owner's jobs
};

// The queue whose next candidate goes next; nullptr when all are used up.
OwnerQueue* next_owner_queue(std::vector<OwnerQueue>& queues);

// Takes that queue's next candidate at `now`: the owner now has one more in flight and was
// just served.
const ClaimCandidate& take_next(OwnerQueue& queue, TimeMs now);

}  // namespace corral

#include "store/fair_share.h"

namespace corral {

OwnerQueue* next_owner_queue(std::vector<OwnerQueue>& queues) {
  OwnerQueue* best = nullptr;
  for (auto& q : queues) {
    if (q.next >= q.jobs.size()) continue;
    if (!best) {
      best = &q;
      continue;
    }
    const Job& a = q.jobs[q.next].job;
    const Job& b = best->jobs[best->next].job;
    if (a.spec.priority != b.spec.priority   ? a.spec.priority > b.spec.priority
        : q.in_flight != best->in_flight     ? q.in_flight < best->in_flight
        : q.last_served != best->last_served ? q.last_served < best->last_served
                                             : a.seq < b.seq) {
      best = &q;
    }
  }
  return best;
}

const ClaimCandidate& take_next(OwnerQueue& queue, TimeMs now) {
  ++queue.in_flight;
  queue.last_served = now;
  return queue.jobs[queue.next++];
}

}  // namespace corral

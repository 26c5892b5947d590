#include "server/runner_snapshots.h"

#include <algorithm>

namespace corral {

RunnerSnapshots::Lookup RunnerSnapshots::lookup(const std::string& tenant, TimeMs now) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  Lookup found;
  found.generation = e.generation + all_generation_;
  TimeMs age = now - e.at;
  if (!e.runners || age < 0 || age >= kServeStaleFor) {
    if (e.read_asked_at && now - *e.read_asked_at < kWaitForRead && now >= *e.read_asked_at) {
      found.wait = true;
    } else {
      e.read_asked_at = now;
    }
    return found;
  }
  found.runners = e.runners;
  // One refresh at a time: another caller is told to refresh only if the last one asked
  // has not put a list within kMaxAge (its read failed, or is slow).
  if (age >= e.fresh_for && now - e.refresh_asked_at >= e.fresh_for) {
    found.refresh = true;
    e.refresh_asked_at = now;
  }
  return found;
}

void RunnerSnapshots::put(const std::string& tenant, Snapshot runners, TimeMs at,
                          uint64_t generation, TimeMs read_ms) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  if (e.generation + all_generation_ != generation) return;  // changed while it was read
  e.runners = std::move(runners);
  e.at = at;
  e.fresh_for = std::clamp(read_ms * kSlowReadFactor, kMaxAge, kServeStaleFor / 2);
}

void RunnerSnapshots::changed(const std::string& tenant) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  ++e.generation;
  e.runners.reset();
  e.read_asked_at.reset();
}

void RunnerSnapshots::changed_all() {
  std::lock_guard lock(mu_);
  ++all_generation_;
  for (auto& [tenant, e] : entries_) {
    e.runners.reset();
    e.read_asked_at.reset();
  }
}

}  // namespace corral

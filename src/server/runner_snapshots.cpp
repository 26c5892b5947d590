#include "server/runner_snapshots.h"

#include <algorithm>

namespace corral {

std::shared_ptr<const RunnerFit> RunnerList::fit(const Job& job) const {
  std::string kind = fit_kind(job);
  {
    std::lock_guard lock(mu_);
    if (auto it = fits_.find(kind); it != fits_.end()) return it->second;
  }
  // Worked out unlocked: two requests may both work out a new kind; the first kept wins.
  auto fit = std::make_shared<const RunnerFit>(fit_runners(job, runners_));
  std::lock_guard lock(mu_);
  if (fits_.size() >= kMaxFits) return fit;
  return fits_.emplace(std::move(kind), std::move(fit)).first->second;
}

RunnerSnapshots::Lookup RunnerSnapshots::lookup(const std::string& tenant, TimeMs now) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  Lookup found;
  found.generation = e.generation + all_generation_;
  TimeMs age = now - e.at;
  bool slow = e.read_ms >= kSlowRead;
  if (!e.runners || age < 0 || (age >= kServeStaleFor && !slow)) {
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
  bool due = age >= e.fresh_for || e.outdated;
  if (due && (!e.refresh_asked_at || now - *e.refresh_asked_at >= e.fresh_for)) {
    found.refresh = true;
    e.refresh_asked_at = now;
  }
  return found;
}

void RunnerSnapshots::put(const std::string& tenant, Snapshot runners, TimeMs at,
                          uint64_t generation, TimeMs read_ms) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  const bool current = e.generation + all_generation_ == generation;
  // A list changed while it was read is dropped, unless it is slow to read: then it is still
  // newer than what is kept (or than nothing), and is kept as outdated, read again soon.
  if (!current && read_ms < kSlowRead) return;
  e.runners = std::move(runners);
  e.at = at;
  e.read_ms = read_ms;
  e.outdated = !current;
  if (current) e.warm = false;
  e.fresh_for = std::clamp(read_ms * kSlowReadFactor, kMaxAge, kServeStaleFor / 2);
}

void RunnerSnapshots::outdate(Entry& e) {
  if (e.runners && e.read_ms >= kSlowRead) {
    // Kept and served until its replacement is read; the next lookup asks for that read.
    e.outdated = true;
    e.refresh_asked_at.reset();
  } else {
    e.runners.reset();
    e.read_asked_at.reset();
  }
}

void RunnerSnapshots::changed(const std::string& tenant) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[tenant];
  ++e.generation;
  e.warm = true;
  outdate(e);
}

void RunnerSnapshots::changed_all() {
  std::lock_guard lock(mu_);
  ++all_generation_;
  for (auto& [tenant, e] : entries_) {
    e.warm = true;
    outdate(e);
  }
}

std::vector<std::pair<std::string, uint64_t>> RunnerSnapshots::due_warmups(TimeMs now) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, uint64_t>> due;
  for (auto& [tenant, e] : entries_) {
    if (!e.warm) continue;
    if (e.warmed_at && now >= *e.warmed_at && now - *e.warmed_at < warm_spacing(e)) continue;
    e.warmed_at = now;
    if (e.runners) {
      e.refresh_asked_at = now;
    } else {
      e.read_asked_at = now;  // a page view meanwhile waits for this read
    }
    e.warm = false;  // a change while it is read sets it again
    due.emplace_back(tenant, e.generation + all_generation_);
  }
  return due;
}

}  // namespace corral

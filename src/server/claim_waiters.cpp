#include "server/claim_waiters.h"

#include <algorithm>

#include "server/matching.h"

namespace corral {

ClaimWaiters::WaiterPtr ClaimWaiters::park(asio::any_io_executor ex, const Runner& runner,
                                           size_t max_parked, bool commands_only) {
  auto w = std::make_shared<Waiter>(std::move(ex), runner);
  w->commands_only = commands_only;
  std::lock_guard lock(mu_);
  size_t& parked = parked_of_runner_[runner.id];
  // Only a runner at its limit pays for the walk to its oldest claims.
  for (auto it = waiters_.begin();
       parked >= std::max<size_t>(max_parked, 1) && it != waiters_.end();) {
    if ((*it)->runner.id != runner.id) {
      ++it;
      continue;
    }
    (*it)->superseded = true;
    wake_locked(*it, std::nullopt);
    it = waiters_.erase(it);
    --parked;
  }
  waiters_.push_back(w);
  ++parked;
  return w;
}

void ClaimWaiters::unpark(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
  if (it == waiters_.end()) return;  // superseded: already gone
  waiters_.erase(it);
  auto count = parked_of_runner_.find(waiter->runner.id);
  if (count != parked_of_runner_.end() && --count->second == 0) parked_of_runner_.erase(count);
}

bool ClaimWaiters::superseded(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  return waiter->superseded;
}

std::optional<Job> ClaimWaiters::reset(const WaiterPtr& waiter,
                                       std::chrono::steady_clock::time_point* woken_at) {
  std::lock_guard lock(mu_);
  waiter->woken = false;
  if (woken_at) *woken_at = waiter->woken_at;
  return std::exchange(waiter->woken_for, std::nullopt);
}

bool ClaimWaiters::woken(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  return waiter->woken;
}

void ClaimWaiters::wake_locked(const WaiterPtr& w, const std::optional<Job>& job) {
  w->woken = true;
  w->woken_for = job;
  w->woken_at = std::chrono::steady_clock::now();
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

bool ClaimWaiters::job_available(const Job& job, const Waiter* except,
                                 const RunnerFilter& also_may_take) {
  std::lock_guard lock(mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const auto& w = *it;
    if (w->woken || w->commands_only || w.get() == except) continue;
    if (!runner_can_take(w->runner, job) && !(also_may_take && also_may_take(w->runner))) continue;
    wake_locked(w, job);
    // Round-robin among equals: the woken runner goes to the back of the line.
    waiters_.splice(waiters_.end(), waiters_, it);
    return true;
  }
  return false;
}

bool ClaimWaiters::command_for(const std::string& runner_id) {
  std::lock_guard lock(mu_);
  bool found = false;
  for (const auto& w : waiters_) {
    if (w->runner.id != runner_id) continue;
    w->commanded = true;
    wake_locked(w, std::nullopt);
    found = true;
  }
  return found;
}

bool ClaimWaiters::commanded(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  return waiter->commanded;
}

void ClaimWaiters::wake_all() {
  std::lock_guard lock(mu_);
  for (const auto& w : waiters_) wake_locked(w, std::nullopt);
}

size_t ClaimWaiters::parked() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace corral

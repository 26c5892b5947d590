#include "server/claim_waiters.h"

#include <algorithm>

#include "server/matching.h"

namespace corral {

ClaimWaiters::WaiterPtr ClaimWaiters::park(asio::any_io_executor ex, const Runner& runner,
                                           size_t max_parked, bool commands_only) {
  auto w = std::make_shared<Waiter>(std::move(ex), runner);
  w->commands_only = commands_only;
  std::lock_guard lock(mu_);
  // Looked up again each round: removing a runner's last claim erases its entry.
  for (auto mine = of_runner_.find(runner.id);
       mine != of_runner_.end() && mine->second.size() >= std::max<size_t>(max_parked, 1);
       mine = of_runner_.find(runner.id)) {
    WaiterPtr oldest = mine->second.front();
    oldest->superseded = true;
    wake_locked(oldest, std::nullopt);
    remove_locked(oldest);
  }
  w->place = waiters_.insert(waiters_.end(), w);
  w->parked = true;
  of_runner_[runner.id].push_back(w);
  return w;
}

void ClaimWaiters::remove_locked(const WaiterPtr& w) {
  if (!w->parked) return;  // superseded: already gone
  waiters_.erase(w->place);
  w->parked = false;
  auto mine = of_runner_.find(w->runner.id);
  if (mine == of_runner_.end()) return;
  std::erase(mine->second, w);
  if (mine->second.empty()) of_runner_.erase(mine);
}

void ClaimWaiters::unpark(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  remove_locked(waiter);
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

bool ClaimWaiters::WakePass::job_available(const Job& job, const RunnerFilter& also_may_take) {
  json kind = {job.tenant,
               job.spec.labels,
               job.spec.group,
               job.spec.type,
               job.owner_token_id,
               job.repo_name,
               job.spec.steward_fallback ? json(*job.spec.steward_fallback) : json(nullptr)};
  std::string key = kind.dump();
  if (woke_nobody_.count(key)) return false;
  if (waiters_.job_available(job, nullptr, also_may_take)) return true;
  woke_nobody_.insert(std::move(key));
  return false;
}

bool ClaimWaiters::command_for(const std::string& runner_id) {
  std::lock_guard lock(mu_);
  auto mine = of_runner_.find(runner_id);
  if (mine == of_runner_.end()) return false;
  for (const auto& w : mine->second) {
    w->commanded = true;
    wake_locked(w, std::nullopt);
  }
  return true;
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

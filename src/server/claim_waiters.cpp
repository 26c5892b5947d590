#include "server/claim_waiters.h"

#include <algorithm>

#include "server/matching.h"

namespace corral {

ClaimWaiters::WaiterPtr ClaimWaiters::park(asio::any_io_executor ex, const Runner& runner,
                                           size_t max_parked, bool commands_only, int slots) {
  auto w = std::make_shared<Waiter>(std::move(ex), runner);
  w->commands_only = commands_only;
  w->slots = slots;
  std::lock_guard lock(mu_);
  // Looked up again each round: removing a runner's last claim erases its entry.
  for (auto mine = of_runner_.find(runner.id);
       mine != of_runner_.end() && mine->second.size() >= std::max<size_t>(max_parked, 1);
       mine = of_runner_.find(runner.id)) {
    WaiterPtr oldest = mine->second.front();
    oldest->superseded = true;
    if (!oldest->handed.empty() && !commands_only) {
      // Jobs leased to the runner and not yet answered go to its newest claim instead.
      w->handed = std::move(oldest->handed);
      w->woken = true;
      w->woken_at = oldest->woken_at;
      oldest->handed.clear();
    }
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

std::vector<ClaimedJob> ClaimWaiters::unpark(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  remove_locked(waiter);
  waiter->reserved = false;
  return std::exchange(waiter->handed, {});
}

bool ClaimWaiters::superseded(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  return waiter->superseded;
}

ClaimWaiters::Wake ClaimWaiters::reset(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  waiter->woken = false;
  return Wake{std::exchange(waiter->woken_for, std::nullopt), std::exchange(waiter->handed, {}),
              waiter->woken_at};
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

bool ClaimWaiters::in_line(const Waiter& w) {
  return !w.woken && !w.reserved && !w.commands_only;
}

bool ClaimWaiters::job_available(const Job& job, const Waiter* except,
                                 const RunnerFilter& also_may_take) {
  std::lock_guard lock(mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const auto& w = *it;
    if (w.get() == except) continue;
    if (!in_line(*w)) continue;
    if (!runner_can_take(w->runner, job) && !(also_may_take && also_may_take(w->runner))) continue;
    wake_locked(w, job);
    // Round-robin among equals: the woken runner goes to the back of the line.
    waiters_.splice(waiters_.end(), waiters_, it);
    return true;
  }
  return false;
}

ClaimWaiters::WaiterPtr ClaimWaiters::reserve(const Job& job) {
  std::lock_guard lock(mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const auto& w = *it;
    if (!in_line(*w) || !runner_can_take(w->runner, job)) continue;
    w->reserved = true;
    w->woken_at = std::chrono::steady_clock::now();
    waiters_.splice(waiters_.end(), waiters_, it);  // round-robin, as job_available
    return w;
  }
  return nullptr;
}

bool ClaimWaiters::hand_over(const WaiterPtr& waiter, std::vector<ClaimedJob> jobs,
                             std::chrono::steady_clock::time_point since) {
  std::lock_guard lock(mu_);
  waiter->reserved = false;
  WaiterPtr to = waiter->parked ? waiter : nullptr;
  if (!to) {
    // The claim ended (answered, hung up, superseded): the runner's next claim, if parked.
    auto mine = of_runner_.find(waiter->runner.id);
    if (mine != of_runner_.end()) {
      for (const auto& w : mine->second) {
        if (!w->commands_only) {
          to = w;
          break;
        }
      }
    }
  }
  if (!to) return false;
  to->handed.insert(to->handed.end(), std::make_move_iterator(jobs.begin()),
                    std::make_move_iterator(jobs.end()));
  // Woken as wake_locked does, keeping a job it may have been woken for (to pass on).
  to->woken = true;
  to->woken_at = since;
  asio::post(to->timer.get_executor(), [to] { to->timer.cancel(); });
  return true;
}

void ClaimWaiters::unreserve(const WaiterPtr& waiter) {
  std::lock_guard lock(mu_);
  waiter->reserved = false;
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

#include "server/log_hub.h"

#include <algorithm>

namespace corral {

LogHub::Subscription::Batch LogHub::Subscription::take() {
  std::lock_guard lock(mu_);
  Batch batch;
  batch.pieces.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
  batch.lagged = std::exchange(lagged_, false);
  batch.changed = std::exchange(changed_, false);
  queue_.clear();
  queued_bytes_ = 0;
  notified_ = false;
  return batch;
}

awaitable<bool> LogHub::Subscription::wait(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    if (notified_) co_return true;
  }
  // No suspension between the check and async_wait: a wake posted meanwhile runs after.
  timer_.expires_after(timeout);
  error_code ec;
  co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
  std::lock_guard lock(mu_);
  co_return notified_;
}

void LogHub::Subscription::notify_locked() {
  if (notified_) return;
  notified_ = true;
  // The timer belongs to the watcher's strand: cancel it there.
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
}

void LogHub::Subscription::wake() {
  std::lock_guard lock(mu_);
  notify_locked();
}

LogHub::SubscriptionPtr LogHub::subscribe(const std::string& job_id, asio::any_io_executor ex) {
  auto sub = std::make_shared<Subscription>(std::move(ex), max_queued_bytes_);
  std::lock_guard lock(mu_);
  subs_[job_id].push_back(sub);
  return sub;
}

LogHub::Limited LogHub::subscribe_within(const std::string& job_id, const std::string& tenant,
                                         asio::any_io_executor ex, size_t max_per_job,
                                         size_t max_per_tenant) {
  std::lock_guard lock(mu_);
  auto job = subs_.find(job_id);
  size_t of_job = job == subs_.end() ? 0 : job->second.size();
  if (of_job >= max_per_job) return {nullptr, WatchLimit::kPerJob, of_job};
  auto counted = watchers_of_tenant_.find(tenant);
  size_t of_tenant = counted == watchers_of_tenant_.end() ? 0 : counted->second;
  if (of_tenant >= max_per_tenant) return {nullptr, WatchLimit::kPerTenant, of_tenant};
  auto sub = std::make_shared<Subscription>(std::move(ex), max_queued_bytes_);
  sub->tenant_ = tenant;
  subs_[job_id].push_back(sub);
  ++watchers_of_tenant_[tenant];
  return {sub, WatchLimit::kNone, 0};
}

void LogHub::unsubscribe(const std::string& job_id, const SubscriptionPtr& sub) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(job_id);
  if (it == subs_.end()) return;
  auto& list = it->second;
  auto before = list.size();
  list.erase(std::remove(list.begin(), list.end(), sub), list.end());
  if (list.size() < before && !sub->tenant_.empty()) {
    auto counted = watchers_of_tenant_.find(sub->tenant_);
    if (counted != watchers_of_tenant_.end() && --counted->second == 0)
      watchers_of_tenant_.erase(counted);
  }
  if (list.empty()) subs_.erase(it);
}

void LogHub::publish_bytes(const std::string& job_id, int attempt, int64_t offset,
                           std::string_view data) {
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  auto it = subs_.find(job_id);
  if (it == subs_.end()) return;
  auto shared = std::make_shared<const std::string>(data);
  for (const auto& sub : it->second) {
    std::lock_guard sub_lock(sub->mu_);
    if (!sub->lagged_) {
      if (sub->queued_bytes_ + shared->size() > sub->max_queued_bytes_) {
        // Too far behind: drop what it has not taken; it re-reads the store from its offset.
        sub->lagged_ = true;
        sub->queue_.clear();
        sub->queued_bytes_ = 0;
      } else {
        sub->queue_.push_back({attempt, offset, shared});
        sub->queued_bytes_ += shared->size();
      }
    }
    sub->notify_locked();
  }
}

void LogHub::publish_changed(const std::string& job_id) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(job_id);
  if (it == subs_.end()) return;
  for (const auto& sub : it->second) {
    std::lock_guard sub_lock(sub->mu_);
    sub->changed_ = true;
    sub->notify_locked();
  }
}

void LogHub::publish_changed_all() {
  std::lock_guard lock(mu_);
  for (const auto& [job_id, list] : subs_) {
    for (const auto& sub : list) {
      std::lock_guard sub_lock(sub->mu_);
      sub->changed_ = true;
      sub->notify_locked();
    }
  }
}

size_t LogHub::watchers() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [job_id, list] : subs_) n += list.size();
  return n;
}

}  // namespace corral

// Live log fan-out: the runner's POST /logs publishes each appended chunk here, and every
// WebSocket watcher of that job (GET /jobs/{id}/logs/stream) has a Subscription, a bounded
// queue that the publisher fills without ever waiting. A watcher that falls behind by more
// than its queue's bound is marked lagged and its queue dropped: it resumes from the store
// at its own offset, so no byte is lost and the publisher never slows down.
//
// Protocol for a watcher (all on its strand):
//   sub = subscribe(job); read the store; loop { batch = sub->take(); ...;
//                                                 if (batch empty) co_await sub->wait(...); }
// take() clears the wake flag; a publish sets it under the lock and posts a timer cancel
// to the watcher's strand, so a publish that lands between take() and wait() is not lost.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/asio.h"

namespace corral {

struct LogPiece {
  int attempt = 0;
  int64_t offset = 0;
  std::shared_ptr<const std::string> data;  // shared by every watcher of the job
};

class LogHub {
 public:
  class Subscription : public std::enable_shared_from_this<Subscription> {
   public:
    Subscription(const asio::any_io_executor& ex, size_t max_queued_bytes)
        : timer_(ex), max_queued_bytes_(max_queued_bytes) {}

    struct Batch {
      std::vector<LogPiece> pieces;
      bool lagged = false;   // pieces were dropped: resume from the store
      bool changed = false;  // the job's state changed: re-read it
    };
    // Everything queued since the last take().
    Batch take();
    // Waits until something is queued, wake() is called, or the timeout passes; returns
    // false on the timeout.
    awaitable<bool> wait(std::chrono::milliseconds timeout);
    // Wakes the watcher (thread-safe), e.g. when its connection closed.
    void wake();

   private:
    friend class LogHub;
    void notify_locked();

    std::string tenant_;  // counted against its tenant's watchers (subscribe_within)

    asio::steady_timer timer_;  // used on the watcher's strand only
    size_t max_queued_bytes_;
    // Guarded by mu_.
    std::mutex mu_;
    std::deque<LogPiece> queue_;
    size_t queued_bytes_ = 0;
    bool lagged_ = false;
    bool changed_ = false;
    bool notified_ = false;
  };
  using SubscriptionPtr = std::shared_ptr<Subscription>;

  explicit LogHub(size_t max_queued_bytes = 4 * 1024 * 1024)
      : max_queued_bytes_(max_queued_bytes) {}

  SubscriptionPtr subscribe(const std::string& job_id, asio::any_io_executor ex);
  // Which limit refused a subscription (docs/security.md, Server limits).
  enum class WatchLimit { kNone, kPerJob, kPerTenant };
  struct Limited {
    SubscriptionPtr sub;  // null when refused
    WatchLimit refused_by = WatchLimit::kNone;
    size_t watchers = 0;  // the count that reached the limit
  };
  // As subscribe, unless the job already has max_per_job watchers or the tenant's jobs
  // max_per_tenant (on this server): then no subscription, and which limit it was.
  Limited subscribe_within(const std::string& job_id, const std::string& tenant,
                           asio::any_io_executor ex, size_t max_per_job, size_t max_per_tenant);
  void unsubscribe(const std::string& job_id, const SubscriptionPtr& sub);

  // data was appended at offset of the attempt (already durable in the store).
  void publish_bytes(const std::string& job_id, int attempt, int64_t offset, std::string_view data);
  // The job's state (or its log, other than by an append) changed.
  void publish_changed(const std::string& job_id);
  void publish_changed_all();
  size_t watchers() const;

 private:
  size_t max_queued_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<SubscriptionPtr>> subs_;
  std::unordered_map<std::string, size_t> watchers_of_tenant_;  // subscribe_within's only
};

}  // namespace corral

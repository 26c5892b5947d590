// Parked long-poll claims. A claim that found nothing parks here; when a job becomes
// claimable (submitted, or requeued after a lost lease) the first parked runner that may
// take it is woken at once, so dispatch needs no polling inside the server.
//
// Protocol for a parked claim (all on the claim's strand):
//   w = park(runner); loop { w->reset(); try claim; if got jobs or deadline: break;
//                            if (!w->woken()) co_await w->timer.async_wait(); }
//   unpark(w)
// A wake sets the flag under the lock and posts a timer cancel to the waiter's strand,
// so a wake that lands between the claim and the wait is never lost.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "api/types.h"
#include "net/asio.h"

namespace corral {

class ClaimWaiters {
 public:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex, Runner r) : timer(ex), runner(std::move(r)) {}
    asio::steady_timer timer;
    Runner runner;
    bool woken = false;                 // guarded by ClaimWaiters::mu_
    std::optional<Job> woken_for;       // the job that woke it, guarded by mu_
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  WaiterPtr park(asio::any_io_executor ex, const Runner& runner);
  void unpark(const WaiterPtr& waiter);
  // Clears the wake flag before a new claim round; returns the job that woke it, if any.
  std::optional<Job> reset(const WaiterPtr& waiter);
  bool woken(const WaiterPtr& waiter);

  // A job became claimable: wake the first parked runner (FIFO) that may take it, other
  // than `except`. Returns whether one was woken. `also_may_take` widens "may take" beyond
  // the normal rules (steward fallback, server/steward.h).
  using RunnerFilter = std::function<bool(const Runner&)>;
  bool job_available(const Job& job, const Waiter* except = nullptr, const RunnerFilter& also_may_take = {});
  // Wakes every parked claim (e.g. on shutdown).
  void wake_all();
  size_t parked() const;

 private:
  void wake_locked(const WaiterPtr& w, const std::optional<Job>& job);
  mutable std::mutex mu_;
  std::list<WaiterPtr> waiters_;
};

}  // namespace corral

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
//
// A runner holds at most one parked claim per free slot (docs/security.md, Server limits):
// parking one more supersedes the runner's oldest, which is woken to answer empty at once.
// So a runner that opens claims in parallel never holds more than its slots here, and a
// runner that restarted (its old claim's connection silently gone) is not refused.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/types.h"
#include "net/asio.h"

namespace corral {

class ClaimWaiters {
 public:
  struct Waiter {
    explicit Waiter(const asio::any_io_executor& ex, Runner r) : timer(ex), runner(std::move(r)) {}
    asio::steady_timer timer;
    Runner runner;
    bool woken = false;            // guarded by ClaimWaiters::mu_
    bool superseded = false;       // a newer claim of the runner took its place; guarded by mu_
    bool commands_only = false;    // a draining runner's claim (slots 0): never woken for jobs
    bool commanded = false;        // an admin's command for the runner came; guarded by mu_
    std::optional<Job> woken_for;  // the job that woke it, guarded by mu_
    std::chrono::steady_clock::time_point woken_at;      // when woken_for did, guarded by mu_
    std::list<std::shared_ptr<Waiter>>::iterator place;  // in waiters_ while parked; mu_
    bool parked = false;                                 // guarded by mu_
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  // Parks a claim of the runner. When the runner already has max_parked claims parked here,
  // its oldest are superseded (removed and woken): their claim answers empty.
  WaiterPtr park(asio::any_io_executor ex, const Runner& runner, size_t max_parked = SIZE_MAX,
                 bool commands_only = false);
  void unpark(const WaiterPtr& waiter);
  // Whether a newer claim of the same runner superseded this one: it must end, empty.
  bool superseded(const WaiterPtr& waiter);
  // Clears the wake flag before a new claim round; returns the job that woke it, if any,
  // and sets *woken_at (when given) to the time it did.
  std::optional<Job> reset(const WaiterPtr& waiter,
                           std::chrono::steady_clock::time_point* woken_at = nullptr);
  bool woken(const WaiterPtr& waiter);

  // A job became claimable: wake the first parked runner (FIFO) that may take it, other
  // than `except`. Returns whether one was woken. `also_may_take` widens "may take" beyond
  // the normal rules (steward fallback, server/steward.h).
  using RunnerFilter = std::function<bool(const Runner&)>;
  bool job_available(const Job& job, const Waiter* except = nullptr,
                     const RunnerFilter& also_may_take = {});
  // job_available for each of many jobs (a sweep's oldest runnable ones), asking once per
  // kind of job: the parked claims that may take a job depend only on its tenant, labels,
  // group, type, submitter and repository, so once one job of a kind woke nobody, the rest
  // of that kind are passed over. A deep backlog that no parked runner may take then costs a
  // sweep one walk of the parked claims, not one per job.
  class WakePass {
   public:
    explicit WakePass(ClaimWaiters& waiters) : waiters_(waiters) {}
    bool job_available(const Job& job, const RunnerFilter& also_may_take = {});

   private:
    ClaimWaiters& waiters_;
    std::set<std::string> woke_nobody_;
  };

  // An admin's command for the runner is waiting in the store: its parked claims here wake
  // to hand it over (a claim parked on another server gets it with the next heartbeat).
  // Returns whether one was parked here.
  bool command_for(const std::string& runner_id);
  bool commanded(const WaiterPtr& waiter);
  // Wakes every parked claim (e.g. on shutdown).
  void wake_all();
  size_t parked() const;

 private:
  void wake_locked(const WaiterPtr& w, const std::optional<Job>& job);
  void remove_locked(const WaiterPtr& w);
  mutable std::mutex mu_;
  // Oldest first (a woken waiter moves to the back). Each waiter knows its place, so
  // unparking costs the same with ten thousand parked as with one.
  std::list<WaiterPtr> waiters_;
  std::unordered_map<std::string, std::vector<WaiterPtr>>
      of_runner_;  // runner id -> its parked claims, oldest first (at most its slots)
};

}  // namespace corral

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
// A submit may instead hand its job to a parked claim (server/dispatch.h): reserve() takes
// the first parked runner that may take the job out of the line of wake-ups, the submit's
// own transaction leases the job to it (one commit), and hand_over() gives the parked claim
// the leased jobs to answer with. Jobs a claim could not answer with (it had ended, or its
// runner hung up) are returned to the queue by whoever holds them (Store::return_claims).
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
    int slots = 1;          // how many jobs the claim asks for (a submit claims that many for it)
    bool reserved = false;  // a submit is leasing it jobs (reserve), guarded by mu_
    std::vector<ClaimedJob> handed;  // jobs leased to it by a submit, guarded by mu_
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  // Parks a claim of the runner. When the runner already has max_parked claims parked here,
  // its oldest are superseded (removed and woken): their claim answers empty.
  WaiterPtr park(asio::any_io_executor ex, const Runner& runner, size_t max_parked = SIZE_MAX,
                 bool commands_only = false, int slots = 1);
  // Removes the claim. Returns jobs handed to it after its last reset(): nobody will answer
  // with them, so the caller returns them to the queue.
  [[nodiscard]] std::vector<ClaimedJob> unpark(const WaiterPtr& waiter);
  // Whether a newer claim of the same runner superseded this one: it must end, empty.
  bool superseded(const WaiterPtr& waiter);
  // What woke a parked claim since its last round.
  struct Wake {
    std::optional<Job> job;                    // a job became claimable (job_available)
    std::vector<ClaimedJob> handed;            // jobs already leased to it (hand_over)
    std::chrono::steady_clock::time_point at;  // when (for handed jobs: when reserved)
  };
  // Clears the wake flag before a new claim round; returns what woke it.
  Wake reset(const WaiterPtr& waiter);
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

  // Takes the first parked claim (FIFO, as job_available) that may take the job out of the
  // line: no wake-up goes to it and no other submit reserves it until hand_over or
  // unreserve. nullptr when none may.
  WaiterPtr reserve(const Job& job);
  // Gives a reserved claim the jobs a submit leased to its runner, and wakes it. When that
  // claim has ended, another parked claim of the same runner gets them; false when there is
  // none (the caller returns them to the queue). `since` is when they were reserved.
  [[nodiscard]] bool hand_over(const WaiterPtr& waiter, std::vector<ClaimedJob> jobs,
                               std::chrono::steady_clock::time_point since);
  // Puts a reserved claim back in line, nothing handed (the submit leased it nothing).
  void unreserve(const WaiterPtr& waiter);

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
  // Whether the parked claim w waits in line for jobs: not woken, not reserved by a submit,
  // not a drain's claim.
  static bool in_line(const Waiter& w);
  void remove_locked(const WaiterPtr& w);
  mutable std::mutex mu_;
  // Oldest first (a woken waiter moves to the back). Each waiter knows its place, so
  // unparking costs the same with ten thousand parked as with one.
  std::list<WaiterPtr> waiters_;
  std::unordered_map<std::string, std::vector<WaiterPtr>>
      of_runner_;  // runner id -> its parked claims, oldest first (at most its slots)
};

}  // namespace corral

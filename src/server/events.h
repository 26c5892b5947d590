// What happens on one server that parked claims and log watchers on every server must
// hear: a job became claimable, a job's log grew, a job's state changed.
//
// Each event is delivered here at once (the ClaimWaiters and the LogHub) and, when the
// server shares its database with others, sent to them through Peers (PostgreSQL
// LISTEN/NOTIFY, server/pg_peers.h). A peer's message carries ids only; the
// facts are in the database, committed before the message is sent:
//   "j <tenant> <job>"  the job became claimable: load it and wake a parked claim that may take it
//   "c <job>"           the job's state or log changed: its watchers re-read the store
//   "a"                 every job may have changed
//   "r"                 jobs were requeued: wake parked claims for the runnable jobs
// A lost message costs latency, not correctness: the server's 1 s safety sweep wakes
// claims for runnable jobs, and a log watcher re-reads the store every 10 s.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/types.h"
#include "common/clock.h"
#include "net/asio.h"
#include "server/claim_waiters.h"
#include "server/log_hub.h"
#include "store/store.h"

namespace corral {

// The link to the other servers on the same database.
class Peers {
 public:
  using Handler = std::function<void(std::string_view message)>;
  virtual ~Peers() = default;
  // Starts delivering the other servers' messages to on_message (called on a thread of
  // the Peers); on_reconnect is called after the link was down and is back (messages may
  // have been missed meanwhile).
  virtual void start(Handler on_message, std::function<void()> on_reconnect) = 0;
  // Queues a message for every other server; never blocks.
  virtual void send(std::string message) = 0;
  virtual void stop() = 0;
};

class ServerEvents {
 public:
  // peers may be null (one server alone on its database).
  ServerEvents(ClaimWaiters& waiters, LogHub& logs, Store& store, asio::thread_pool& store_pool,
               Clock& clock, std::unique_ptr<Peers> peers);
  ~ServerEvents();

  // A job became claimable (submitted, requeued, made by a schedule).
  void job_available(const Job& job);
  // Bytes were appended to the readable log of a job's attempt (durable in the store).
  void log_appended(const std::string& job_id, int attempt, int64_t offset, std::string_view data);
  // A job's state changed (finished, canceled, requeued).
  void job_changed(const std::string& job_id);
  // Any job may have changed.
  void all_jobs_changed();
  // A sweep put jobs back in the queue. This server wakes its own parked claims (it knows
  // the jobs); the others look for runnable jobs.
  void jobs_requeued();

  bool shared() const { return peers_ != nullptr; }
  void stop();

 private:
  void on_peer_message(std::string_view message);
  // Off the peers' thread: wakes a parked claim for each runnable job.
  void wake_for_runnable_jobs();

  ClaimWaiters& waiters_;
  LogHub& logs_;
  Store& store_;
  asio::thread_pool& store_pool_;
  Clock& clock_;
  std::unique_ptr<Peers> peers_;
};

}  // namespace corral

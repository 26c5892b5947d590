// Peers over PostgreSQL LISTEN/NOTIFY: the servers sharing one database tell each other
// about new jobs and log bytes on the channel "corral_events" (server/events.h says what
// the messages mean).
//
// One thread owns one connection: it LISTENs, and sends the queued messages in one
// statement (SELECT pg_notify(...) FROM unnest($1)), so a burst of submits costs one round
// trip. Each message starts with this server's id, so it ignores its own. When the
// database goes away the thread reconnects with backoff and then calls on_reconnect.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "server/events.h"

namespace corral {

class PgPeers final : public Peers {
 public:
  // conninfo: a postgres:// URL or key=value string, as libpq takes it.
  explicit PgPeers(std::string conninfo);
  ~PgPeers() override;

  void start(Handler on_message, std::function<void()> on_reconnect) override;
  void send(std::string message) override;
  void stop() override;

  const std::string& server_id() const { return server_id_; }
  // Whether the LISTEN connection is up (for tests and health).
  bool connected() const { return connected_; }

  static constexpr const char* kChannel = "corral_events";
  static constexpr size_t kMaxQueued = 100'000;  // past it, messages are dropped (the sweeps cover)

 private:
  void run();
  void poke();

  std::string conninfo_;
  std::string server_id_;
  Handler on_message_;
  std::function<void()> on_reconnect_;
  std::thread thread_;
  int wake_fd_ = -1;  // eventfd: a message was queued, or stop()
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};

  std::mutex mu_;
  std::deque<std::string> queue_;  // guarded by mu_
  uint64_t dropped_ = 0;           // guarded by mu_
};

}  // namespace corral

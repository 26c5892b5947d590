// The corral server: HTTP API, claim dispatch, lease and heartbeat sweeps over a Store.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/timezone.h"
#include "net/http_server.h"
#include "server/claim_waiters.h"
#include "server/config.h"
#include "server/context.h"
#include "server/events.h"
#include "store/store.h"

namespace corral {

class Server {
 public:
  Server(ServerConfig config, Clock& clock);
  ~Server();

  // Opens the store in data_dir (applying migrations), makes the first admin token when
  // there is none, and starts listening. Does not block.
  Result<void> start();
  // Runs the I/O threads until stop() (or SIGINT/SIGTERM when handle_signals).
  void run(bool handle_signals);
  void stop();

  std::string url() const { return url_; }
  // Makes a token directly in the store (for `corral dev`, which runs its own runner).
  Result<std::string> create_token(TokenKind kind, const std::string& tenant,
                                   const std::string& name);
  // The admin token made on this start, if one was (empty otherwise).
  const std::string& new_admin_token() const { return new_admin_token_; }
  // Every route the server serves, as (method, pattern), once start() added them: the API
  // document's test compares them with web/openapi.json.
  std::vector<std::pair<http::verb, std::string>> routes() const { return router_.routes(); }

 private:
  Result<void> bootstrap_admin();
  awaitable<void> sweep_loop();

  ServerConfig config_;
  Clock& clock_;
  asio::io_context io_;
  std::unique_ptr<asio::thread_pool> store_pool_;
  std::unique_ptr<asio::thread_pool> read_pool_;
  std::unique_ptr<Store> store_;
  ClaimWaiters waiters_;
  LogHub logs_{config_.log_stream_queue_bytes};
  std::unique_ptr<ServerEvents> events_;
  ServerMetrics metrics_;
  std::unique_ptr<ServerContext> ctx_;
  Router router_;
  std::unique_ptr<HttpServer> http_;
  std::string url_;
  std::string new_admin_token_;
  asio::steady_timer sweep_timer_{io_};
  bool stopping_ = false;
  bool store_down_ = false;  // the last sweep could not reach the store
  // Leases are not expired (nor runners marked offline) before this time: one heartbeat
  // timeout after this server started or the store came back, so runners that kept running
  // their jobs have had a full timeout to reach us and renew their leases (no mass requeue).
  TimeMs lease_grace_until_ = 0;
  std::optional<TimeZone> refresh_zone_;  // set when the nightly refresh is on
};

}  // namespace corral

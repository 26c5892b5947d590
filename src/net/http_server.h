// The HTTP listener: one coroutine per connection, each on its own strand. Enforces a
// request body limit (413), an idle timeout between requests, and answers every error in
// corral's JSON error shape.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "net/asio.h"
#include "net/router.h"

namespace corral {

// One answered request, for metrics: route is the pattern that matched ("" for none).
struct AnsweredRequest {
  http::verb method;
  std::string_view route;
  unsigned status = 0;
  double seconds = 0;  // from the request's header being read to its answer written
};

struct HttpServerOptions {
  size_t body_limit = 1024 * 1024;
  // A larger limit for some requests, chosen by their target once the header is read
  // (nullopt = body_limit): an agent's event stream is one bigger upload.
  std::function<std::optional<size_t>(std::string_view target)> body_limit_for;
  std::chrono::milliseconds idle_timeout{75'000};
  std::chrono::milliseconds read_timeout{30'000};  // for a request whose header has begun
  // Open connections (HTTP and WebSocket) at most; one more is answered 503 and closed.
  size_t max_connections = 20'000;
  // Called on the connection's strand after each answer (not for WebSocket sessions).
  std::function<void(const AnsweredRequest&)> on_answer;
};

// {"error":{"code":..,"message":..}} plus any detail fields (e.g. next_offset).
Response error_response(const Error& error, unsigned version = 11, bool keep_alive = true);
Response json_response(http::status status, const std::string& body, unsigned version = 11);

class HttpServer {
 public:
  HttpServer(asio::io_context& io, const Router& router, HttpServerOptions options);
  // Binds and starts accepting; port 0 picks a free port. Returns the bound endpoint.
  Result<tcp::endpoint> listen(const std::string& host, uint16_t port);
  void stop();

  size_t open_connections() const { return *open_connections_; }

 private:
  awaitable<void> accept_loop();
  awaitable<void> session(beast::tcp_stream stream);
  // Past --max-connections: a 503 and a close.
  awaitable<void> refuse(beast::tcp_stream stream);
  // Waits after a failed accept (EMFILE: out of descriptors) instead of retrying at once.
  awaitable<void> back_off(const error_code& ec);

  asio::io_context& io_;
  const Router& router_;
  HttpServerOptions options_;
  tcp::acceptor acceptor_;
  // Shared with the sessions, which may end after this object when the io_context goes.
  std::shared_ptr<std::atomic<size_t>> open_connections_ = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<size_t>> refusing_ = std::make_shared<std::atomic<size_t>>(0);
  std::chrono::milliseconds accept_backoff_{0};  // 0 while accepts succeed
  bool at_limit_ = false;                        // logged that the connection limit was reached
};

}  // namespace corral

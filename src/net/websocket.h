// Handing an HTTP connection over to a WebSocket. A WebSocket route's handler gets a
// WebSocketUpgrade: it checks the request first (auth, lookups) and either reject()s it
// with a plain HTTP answer (the connection stays an HTTP keep-alive connection) or
// accept()s it and owns the WebSocket until it returns.
#pragma once

#include <optional>

#include "net/asio.h"

namespace corral {

namespace websocket = boost::beast::websocket;
using WebSocket = websocket::stream<beast::tcp_stream>;

class WebSocketUpgrade {
 public:
  WebSocketUpgrade(beast::tcp_stream& stream, const http::request<http::string_body>& request)
      : stream_(stream), request_(request) {}

  // Answers 101 and returns the WebSocket, or nullptr when the request is not an upgrade
  // (then answers 426) or the handshake failed.
  awaitable<WebSocket*> accept();
  void reject(http::response<http::string_body> response) { rejection_ = std::move(response); }

  bool accepted() const { return ws_.has_value(); }
  std::optional<http::response<http::string_body>>& rejection() { return rejection_; }

 private:
  beast::tcp_stream& stream_;
  const http::request<http::string_body>& request_;
  std::optional<WebSocket> ws_;
  std::optional<http::response<http::string_body>> rejection_;
};

}  // namespace corral

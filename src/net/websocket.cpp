#include "net/websocket.h"

#include "net/http_server.h"

namespace corral {

awaitable<WebSocket*> WebSocketUpgrade::accept() {
  if (!websocket::is_upgrade(request_)) {
    auto res = error_response(
        make_error(ErrorCode::kBadRequest,
                   "this endpoint speaks WebSocket: send a GET with 'Upgrade: websocket'"),
        request_.version());
    res.result(http::status::upgrade_required);
    res.set(http::field::upgrade, "websocket");
    reject(std::move(res));
    co_return nullptr;
  }
  ws_.emplace(std::move(stream_));
  ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  // A message goes out as one frame. Beast's default cuts messages into frames of its 4 KiB
  // write buffer, one send each: a 1 MiB log piece was 256 system calls (issue 17's log path).
  ws_->auto_fragment(false);
  ws_->set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::server, "corral/" CORRAL_VERSION);
  }));
  error_code ec;
  co_await ws_->async_accept(request_, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return nullptr;
  co_return &*ws_;
}

}  // namespace corral

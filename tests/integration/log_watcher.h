// A WebSocket watcher of a job's log (GET /api/v1/jobs/{id}/logs/stream) for the
// integration tests: it keeps every binary byte and every text message it receives.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "net/endpoint.h"

namespace corral::testing {

namespace websocket = boost::beast::websocket;
using namespace std::chrono_literals;

// One WebSocket watcher: connects and upgrades in the constructor; start() reads every
// message on a thread of its own until the server closes.
class LogWatcher {
 public:
  LogWatcher(const std::string& url, const std::string& target, const std::string& token,
             int receive_buffer = 0)
      : ws_(io_) {
    auto ep = *Endpoint::parse(url);
    tcp::socket& socket = ws_.next_layer();
    socket.open(tcp::v4());
    if (receive_buffer > 0)
      socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket.connect(tcp::endpoint(asio::ip::make_address(ep.host), ep.port));
    ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
      if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    }));
    websocket::response_type res;
    error_code ec;
    // (The async form fills res also when the server refuses the upgrade.)
    ws_.async_handshake(res, ep.host_header(), target, [&](error_code e) { ec = e; });
    io_.run();
    status = static_cast<int>(res.result_int());
    refusal = res.body();
  }
  ~LogWatcher() {
    error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    if (reader_.joinable()) reader_.join();
  }

  void start() {
    reader_ = std::thread([this] {
      beast::flat_buffer buffer;
      for (;;) {
        error_code ec;
        ws_.read(buffer, ec);
        std::lock_guard lock(mu_);
        if (ec) {
          closed_ = true;
          cv_.notify_all();
          return;
        }
        std::string data = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (ws_.got_binary())
          bytes_ += data;
        else
          texts_.push_back(json::parse(data));
        cv_.notify_all();
      }
    });
  }
  bool wait_for_bytes(size_t n, std::chrono::milliseconds deadline = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return bytes_.size() >= n || closed_; }) &&
           bytes_.size() >= n;
  }
  bool wait_closed(std::chrono::milliseconds deadline = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return closed_; });
  }
  std::string bytes() {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::vector<json> texts() {
    std::lock_guard lock(mu_);
    return texts_;
  }
  std::vector<json> texts_of(const std::string& type) {
    std::vector<json> out;
    for (auto& t : texts())
      if (t["type"] == type) out.push_back(t);
    return out;
  }
  json end() {
    auto ends = texts_of("end");
    return ends.empty() ? json() : ends.back();
  }

  int status = 0;
  std::string refusal;

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string bytes_;
  std::vector<json> texts_;
  bool closed_ = false;
};

inline std::string stream_target(const std::string& id, const std::string& query = "") {
  return "/api/v1/jobs/" + id + "/logs/stream" + (query.empty() ? "" : "?" + query);
}

}  // namespace corral::testing

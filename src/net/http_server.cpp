#include "net/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace corral {

namespace {

// A request's watch for the client hanging up (RequestContext::watch_hangup).
struct HangupWatch {
  bool watching = false;
  bool over = false;  // the handler returned: the watch has ended
  std::function<void()> fn;
};

awaitable<void> watch_for_hangup(tcp::socket& socket, std::shared_ptr<HangupWatch> watch) {
  error_code ec;
  co_await socket.async_wait(tcp::socket::wait_read, asio::redirect_error(use_awaitable, ec));
  // Nothing here touches the socket after the wait unless the request is still being
  // handled: by then the session may have moved on, or be gone.
  if (watch->over || ec) co_return;
  // Readable before we answered: the client hung up (EOF or reset), or sent its next
  // request early (pipelining). Peek, so that a next request stays for the session.
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) watch->fn();
}

// Counts a connection for as long as its coroutine lives.
class ConnectionCount {
 public:
  explicit ConnectionCount(std::shared_ptr<std::atomic<size_t>> count) : count_(std::move(count)) {}
  ConnectionCount(ConnectionCount&& other) noexcept : count_(std::move(other.count_)) {}
  ConnectionCount(const ConnectionCount&) = delete;
  ConnectionCount& operator=(const ConnectionCount&) = delete;
  ConnectionCount& operator=(ConnectionCount&&) = delete;
  ~ConnectionCount() {
    if (count_) --*count_;
  }

 private:
  std::shared_ptr<std::atomic<size_t>> count_;
};

// Connections being refused (a 503 and a short lingering close) at most at once; past it a
// new connection is closed without an answer.
constexpr size_t kMaxRefusing = 64;
constexpr std::chrono::milliseconds kMaxAcceptBackoff{1'000};

}  // namespace

Response json_response(http::status status, const std::string& body, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "corral/" CORRAL_VERSION);
  res.body() = body;
  res.prepare_payload();
  return res;
}

Response error_response(const Error& error, unsigned version, bool keep_alive) {
  nlohmann::json body = nlohmann::json::object();
  if (!error.detail_json.empty()) body = nlohmann::json::parse(error.detail_json);
  body["error"] = {{"code", std::string(code_name(error.code))}, {"message", error.message}};
  // A message may echo bytes that are not UTF-8 (a path): replace them, never throw here.
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto res = json_response(static_cast<http::status>(error.status()), text + "\n", version);
  if (body.contains("retry_after_s"))
    res.set(http::field::retry_after, body["retry_after_s"].dump());
  res.keep_alive(keep_alive);
  return res;
}

HttpServer::HttpServer(asio::io_context& io, const Router& router, HttpServerOptions options)
    : io_(io), router_(router), options_(std::move(options)), acceptor_(io) {}

Result<tcp::endpoint> HttpServer::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    return make_error(ErrorCode::kBadRequest, "'" + host + "' is not an IP address to listen on");
  tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + host + ":" +
                                                   std::to_string(port) + ": " + ec.message());
  }
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return acceptor_.local_endpoint();
}

void HttpServer::stop() {
  error_code ec;
  acceptor_.close(ec);
}

awaitable<void> HttpServer::accept_loop() {
  for (;;) {
    error_code ec;
    auto strand = asio::make_strand(io_);
    tcp::socket socket(strand);
    co_await acceptor_.async_accept(socket, asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      co_await back_off(ec);
      continue;
    }
    if (accept_backoff_.count() > 0) {
      accept_backoff_ = std::chrono::milliseconds(0);
      spdlog::info("accepting connections again ({} open)", open_connections_->load());
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (open_connections_->load() >= options_.max_connections) {
      if (!at_limit_) {
        at_limit_ = true;
        spdlog::warn(
            "{} connections open, the limit (--max-connections): new connections get 503 until "
            "some close",
            options_.max_connections);
      }
      if (refusing_->load() >= kMaxRefusing) continue;  // the socket closes here, unanswered
      ++*refusing_;
      asio::co_spawn(strand, refuse(beast::tcp_stream(std::move(socket))), asio::detached);
      continue;
    }
    if (at_limit_) {
      at_limit_ = false;
      spdlog::info("below the connection limit again ({} open)", open_connections_->load());
    }
    ++*open_connections_;
    asio::co_spawn(
        strand,
        [](HttpServer* self, beast::tcp_stream stream, ConnectionCount) -> awaitable<void> {
          co_await self->session(std::move(stream));
        }(this, beast::tcp_stream(std::move(socket)), ConnectionCount(open_connections_)),
        // An exception out of a session ends that connection without an answer: log it
        // (detached would drop it without a word).
        [](const std::exception_ptr& e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("HTTP connection failed: {}", ex.what());
          } catch (...) {
            spdlog::error("HTTP connection failed with an unknown exception");
          }
        });
  }
}

awaitable<void> HttpServer::back_off(const error_code& ec) {
  // Out of file descriptors (EMFILE, ENFILE), or another failure that retrying at once
  // would only repeat: the pending connection stays in the listen backlog meanwhile.
  bool first = accept_backoff_.count() == 0;
  accept_backoff_ =
      first ? std::chrono::milliseconds(10) : std::min(accept_backoff_ * 2, kMaxAcceptBackoff);
  if (first) {
    bool out_of_descriptors = ec == asio::error::no_descriptors || ec.value() == ENFILE;
    spdlog::error("accept failed: {} ({} connections open); retrying with backoff up to {} ms{}",
                  ec.message(), open_connections_->load(), kMaxAcceptBackoff.count(),
                  out_of_descriptors
                      ? ": raise the process's file limit (ulimit -n, systemd LimitNOFILE=) above "
                        "--max-connections, or lower --max-connections"
                      : "");
  }
  asio::steady_timer timer(io_);
  timer.expires_after(accept_backoff_);
  error_code ignored;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ignored));
}

awaitable<void> HttpServer::refuse(beast::tcp_stream stream) {
  ConnectionCount refusing(refusing_);
  auto res = error_response(
      Error{ErrorCode::kUnavailable,
            "the server has its limit of " + std::to_string(options_.max_connections) +
                " open connections (--max-connections); retry shortly",
            R"({"retry_after_s":1})"},
      11, false);
  error_code ec;
  stream.expires_after(std::chrono::seconds(2));
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  // Lingering close, as for a refused request: read what the client sent so it reads our
  // answer instead of a reset.
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> sink;
  for (size_t drained = 0; !ec && drained < 1024 * 1024;) {
    drained += co_await stream.async_read_some(asio::buffer(sink),
                                               asio::redirect_error(use_awaitable, ec));
  }
}

namespace {
constexpr uint64_t kLargeBody = 64 * 1024;
constexpr uint64_t kLargeBodyRead = 256 * 1024;
}  // namespace

awaitable<void> HttpServer::session(beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  error_code ec;
  std::string remote;
  {
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.body_limit);
    parser.header_limit(16 * 1024);
    // The idle timeout covers the wait for the next request on a keep-alive connection.
    stream.expires_after(options_.idle_timeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    size_t body_limit = options_.body_limit;
    if (!ec && options_.body_limit_for) {
      if (auto larger = options_.body_limit_for(parser.get().target())) {
        body_limit = *larger;
        parser.body_limit(body_limit);
      }
    }
    if (!ec && !parser.is_done()) {
      // Beast reads a body in pieces of the buffer's free room, which after a header is a few
      // KiB: a 1 MiB log chunk took ~300 reads (and as many epoll calls). A large body gets
      // room for up to 256 KiB a read, given back once its answer is written.
      if (auto length = parser.content_length(); length && *length > kLargeBody) {
        buffer.reserve(buffer.size() + std::min<uint64_t>(*length, kLargeBodyRead));
      }
      stream.expires_after(options_.read_timeout);
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == beast::error::timeout) {
      break;
    }
    if (ec) {
      Error err =
          ec == http::error::body_limit
              ? make_error(ErrorCode::kPayloadTooLarge,
                           "request body is larger than the limit of " +
                               std::to_string(body_limit) + " bytes")
              : make_error(ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message());
      auto res = error_response(err, 11, false);
      stream.expires_after(std::chrono::seconds(5));
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      // Lingering close: read and drop what the client is still sending, so it can finish
      // writing and read our answer instead of failing on a reset connection.
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream.expires_after(std::chrono::seconds(2));
      std::array<char, 16384> sink;
      for (size_t drained = 0; !ec && drained < 64 * 1024 * 1024;) {
        drained += co_await stream.async_read_some(asio::buffer(sink),
                                                   asio::redirect_error(use_awaitable, ec));
      }
      co_return;
    }
    auto& msg = parser.get();
    auto arrived = std::chrono::steady_clock::now();
    RequestContext ctx{msg, {}, {}, {}, remote, {}};
    split_target(msg.target(), ctx.path, ctx.query);
    Response res;
    auto match = router_.match(msg.method(), ctx.path);
    // Handlers (long-polls) manage their own time; the read deadline must not cut them.
    stream.expires_never();
    if (match.ws_handler) {
      ctx.params = std::move(match.params);
      WebSocketUpgrade upgrade(stream, msg);
      try {
        co_await (*match.ws_handler)(ctx, upgrade);
      } catch (const std::exception& e) {
        spdlog::error("WebSocket {} failed: {}", ctx.path, e.what());
      }
      // An accepted connection belonged to the WebSocket; it is over now.
      if (upgrade.accepted()) co_return;
      res = upgrade.rejection() ? std::move(*upgrade.rejection())
                                : error_response(make_error(ErrorCode::kInternal,
                                                            "internal error; see the server log"));
    } else if (match.handler) {
      ctx.params = std::move(match.params);
      auto hangup = std::make_shared<HangupWatch>();
      ctx.on_hangup = [&stream, hangup](std::function<void()> fn) {
        if (hangup->watching) return;
        hangup->watching = true;
        hangup->fn = std::move(fn);
        asio::co_spawn(stream.get_executor(), watch_for_hangup(stream.socket(), hangup),
                       asio::detached);
      };
      try {
        res = co_await (*match.handler)(ctx);
      } catch (const std::exception& e) {
        spdlog::error("{} {} failed: {}", std::string(msg.method_string()), ctx.path, e.what());
        res =
            error_response(make_error(ErrorCode::kInternal, "internal error; see the server log"));
      }
      hangup->over = true;
      if (hangup->watching) {
        error_code ignored;
        stream.socket().cancel(ignored);  // ends the watch's wait
      }
    } else if (match.path_known) {
      res =
          error_response(make_error(ErrorCode::kBadRequest, std::string(msg.method_string()) +
                                                                " is not allowed on " + ctx.path));
      res.result(http::status::method_not_allowed);
    } else {
      res = error_response(make_error(ErrorCode::kNotFound, "no such endpoint: " + ctx.path));
    }
    res.version(msg.version());
    bool keep_alive = msg.keep_alive() && res.keep_alive();
    res.keep_alive(keep_alive);
    stream.expires_after(options_.read_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (options_.on_answer) {
      options_.on_answer(AnsweredRequest{
          msg.method(), match.pattern, res.result_int(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count()});
    }
    if (ec || !keep_alive) break;
    // Thousands of runners keep connections open: none holds a large body's read room.
    if (buffer.capacity() > kLargeBody) buffer.shrink_to_fit();
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace corral

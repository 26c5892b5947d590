#include "net/http_client.h"

namespace corral {

namespace {

Error net_error(const std::string& what, const error_code& ec) {
  if (ec == beast::error::timeout) return make_error(ErrorCode::kTimeout, what + ": timed out");
  return make_error(ErrorCode::kUnavailable, what + ": " + ec.message());
}

template <typename S>
awaitable<Result<HttpResponse>> exchange_on(S& stream, beast::flat_buffer& buffer,
                                            const http::request<http::string_body>& req,
                                            std::chrono::milliseconds timeout, bool& reusable) {
  error_code ec;
  stream.expires_after(timeout);
  co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    reusable = false;
    co_return net_error("sending " + std::string(req.target()), ec);
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(256ull * 1024 * 1024);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  stream.expires_never();
  if (ec) {
    reusable = false;
    co_return net_error("reading the answer to " + std::string(req.target()), ec);
  }
  auto& msg = parser.get();
  HttpResponse res;
  res.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    res.headers[name] = std::string(field.value());
  }
  res.body = std::move(msg.body());
  reusable = msg.keep_alive();
  co_return res;
}

}  // namespace

awaitable<Result<std::unique_ptr<HttpConnection>>> HttpConnection::connect(
    const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  if (endpoint.kind == Endpoint::Kind::kUnix) {
    beast::basic_stream<unix_socket> stream(ex);
    stream.expires_after(timeout);
    co_await stream.async_connect(unix_socket::endpoint(endpoint.socket_path),
                                  asio::redirect_error(use_awaitable, ec));
    if (ec) co_return net_error("connecting to " + endpoint.to_string(), ec);
    co_return std::make_unique<HttpConnection>(Stream(std::in_place_index<1>, std::move(stream)));
  }
  tcp::resolver resolver(ex);
  auto results = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                 asio::redirect_error(use_awaitable, ec));
  if (ec) co_return net_error("resolving " + endpoint.host, ec);
  beast::tcp_stream stream(ex);
  stream.expires_after(timeout);
  co_await stream.async_connect(results, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return net_error("connecting to " + endpoint.to_string(), ec);
  stream.socket().set_option(tcp::no_delay(true));
  co_return std::make_unique<HttpConnection>(Stream(std::in_place_index<0>, std::move(stream)));
}

awaitable<Result<HttpResponse>> HttpConnection::exchange(
    const http::request<http::string_body>& req, std::chrono::milliseconds timeout) {
  if (auto* tcp_stream = std::get_if<0>(&stream_)) {
    co_return co_await exchange_on(*tcp_stream, buffer_, req, timeout, reusable_);
  }
  co_return co_await exchange_on(std::get<1>(stream_), buffer_, req, timeout, reusable_);
}

HttpClient::HttpClient(asio::any_io_executor executor, Endpoint endpoint, std::string bearer_token)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      token_(std::move(bearer_token)) {}

http::request<http::string_body> HttpClient::build(const HttpRequest& req) const {
  http::request<http::string_body> msg{req.method, req.target, 11};
  msg.set(http::field::host, endpoint_.host_header());
  msg.set(http::field::user_agent, "corral/" CORRAL_VERSION);
  if (!token_.empty()) msg.set(http::field::authorization, "Bearer " + token_);
  for (const auto& [k, v] : req.headers) msg.set(k, v);
  if (!req.body.empty() || req.method == http::verb::post || req.method == http::verb::put) {
    msg.set(http::field::content_type, req.content_type);
    msg.body() = req.body;
    msg.prepare_payload();
  }
  msg.keep_alive(true);
  return msg;
}

awaitable<Result<std::unique_ptr<HttpConnection>>> HttpClient::acquire(
    std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(idle_mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      co_return conn;
    }
  }
  co_return co_await HttpConnection::connect(endpoint_, timeout);
}

void HttpClient::release(std::unique_ptr<HttpConnection> conn) {
  if (!conn || !conn->reusable()) return;
  std::lock_guard lock(idle_mu_);
  if (idle_.size() < 16) idle_.push_back(std::move(conn));
}

awaitable<Result<HttpResponse>> HttpClient::request(HttpRequest req) {
  auto msg = build(req);
  // A reused keep-alive connection may have been closed by the server meanwhile: retry
  // once on a fresh connection when the failure came from a reused one.
  for (int round = 0; round < 2; ++round) {
    bool fresh = false;
    std::unique_ptr<HttpConnection> conn;
    {
      std::unique_lock lock(idle_mu_);
      if (round == 0 && !idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    if (!conn) {
      auto connected = co_await HttpConnection::connect(endpoint_, req.timeout);
      if (!connected.ok()) co_return connected.error();
      conn = std::move(connected.value());
      fresh = true;
    }
    auto res = co_await conn->exchange(msg, req.timeout);
    if (!res.ok() && !fresh && res.error().code != ErrorCode::kTimeout) continue;
    if (res.ok()) release(std::move(conn));
    co_return res;
  }
  co_return make_error(ErrorCode::kUnavailable, "request to " + endpoint_.to_string() + " failed");
}

awaitable<Result<HttpResponse>> HttpClient::get(std::string target) {
  HttpRequest req;
  req.target = std::move(target);
  co_return co_await request(std::move(req));
}

awaitable<Result<HttpResponse>> HttpClient::post(std::string target, std::string body) {
  HttpRequest req;
  req.method = http::verb::post;
  req.target = std::move(target);
  req.body = std::move(body);
  co_return co_await request(std::move(req));
}

SyncHttpClient::SyncHttpClient(Endpoint endpoint, std::string bearer_token)
    : io_(std::make_unique<asio::io_context>()),
      client_(std::make_unique<HttpClient>(io_->get_executor(), std::move(endpoint),
                                           std::move(bearer_token))) {}

SyncHttpClient::~SyncHttpClient() = default;

void SyncHttpClient::set_token(std::string token) {
  client_->set_token(std::move(token));
}

Result<HttpResponse> SyncHttpClient::request(HttpRequest req) {
  Result<HttpResponse> out;
  io_->restart();
  asio::co_spawn(*io_, client_->request(std::move(req)),
                 [&](const std::exception_ptr& e, Result<HttpResponse> r) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       out = make_error(ErrorCode::kInternal, ex.what());
                     }
                   } else {
                     out = std::move(r);
                   }
                 });
  io_->run();
  return out;
}

Result<HttpResponse> SyncHttpClient::get(const std::string& target) {
  HttpRequest req;
  req.target = target;
  return request(std::move(req));
}

Result<HttpResponse> SyncHttpClient::post(const std::string& target, const std::string& body) {
  HttpRequest req;
  req.method = http::verb::post;
  req.target = target;
  req.body = body;
  return request(std::move(req));
}

Result<HttpResponse> SyncHttpClient::del(const std::string& target) {
  HttpRequest req;
  req.method = http::verb::delete_;
  req.target = target;
  return request(std::move(req));
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace corral

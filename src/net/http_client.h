// An HTTP/1.1 client over TCP or a unix socket, for coroutines. Keeps idle keep-alive
// connections for reuse; each request has a deadline. Used by the runner (server API and
// the Docker Engine API), the CLI and the tests.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "net/asio.h"
#include "net/endpoint.h"

namespace corral {

struct HttpRequest {
  http::verb method = http::verb::get;
  std::string target;  // path and query, e.g. /api/v1/jobs?limit=5
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds timeout{30'000};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One connection: a TCP or unix stream with Beast's timeouts.
class HttpConnection {
 public:
  using Stream = std::variant<beast::tcp_stream, beast::basic_stream<unix_socket>>;

  static awaitable<Result<std::unique_ptr<HttpConnection>>> connect(
      const Endpoint& endpoint, std::chrono::milliseconds timeout);
  // Sends req and reads one whole response.
  awaitable<Result<HttpResponse>> exchange(const http::request<http::string_body>& req,
                                           std::chrono::milliseconds timeout);
  Stream& stream() { return stream_; }
  beast::flat_buffer& buffer() { return buffer_; }
  bool reusable() const { return reusable_; }

  explicit HttpConnection(Stream stream) : stream_(std::move(stream)) {}

 private:
  Stream stream_;
  beast::flat_buffer buffer_;
  bool reusable_ = true;
};

class HttpClient {
 public:
  HttpClient(asio::any_io_executor executor, Endpoint endpoint, std::string bearer_token = "");

  awaitable<Result<HttpResponse>> request(HttpRequest req);
  // Convenience: JSON body in, response out.
  awaitable<Result<HttpResponse>> get(std::string target);
  awaitable<Result<HttpResponse>> post(std::string target, std::string body);

  const Endpoint& endpoint() const { return endpoint_; }
  void set_token(std::string token) { token_ = std::move(token); }
  http::request<http::string_body> build(const HttpRequest& req) const;
  // Takes a connection (an idle one or a new one); give it back with release().
  awaitable<Result<std::unique_ptr<HttpConnection>>> acquire(std::chrono::milliseconds timeout);
  void release(std::unique_ptr<HttpConnection> conn);

 private:
  asio::any_io_executor executor_;
  Endpoint endpoint_;
  std::string token_;
  std::mutex idle_mu_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
};

// A blocking facade for the CLI and tests: runs each request on its own io_context.
class SyncHttpClient {
 public:
  SyncHttpClient(Endpoint endpoint, std::string bearer_token = "");
  ~SyncHttpClient();
  Result<HttpResponse> request(HttpRequest req);
  Result<HttpResponse> get(const std::string& target);
  Result<HttpResponse> post(const std::string& target, const std::string& body);
  Result<HttpResponse> del(const std::string& target);
  void set_token(std::string token);

 private:
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<HttpClient> client_;
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view s);

}  // namespace corral

// An HTTP exchange whose answer turns into a raw byte stream on the same connection, as
// the Engine API does for POST /containers/{id}/attach and POST /exec/{id}/start. The
// request asks for "Upgrade: tcp"; Docker answers "101 UPGRADED", Podman 101 or "200 OK".
// Beast parses only the answer's header; from then on the connection is read directly,
// starting with whatever bytes Beast had already buffered past the header.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "net/asio.h"
#include "net/endpoint.h"
#include "net/http_client.h"

namespace corral {

class HijackedStream {
 public:
  // Connects (a dedicated connection, never a pooled one), sends req with the upgrade
  // headers added and reads the answer's header within timeout. An error status becomes
  // docker_api::engine_error(status, body, what).
  static awaitable<Result<std::unique_ptr<HijackedStream>>> open(
      const Endpoint& endpoint, http::request<http::string_body> req,
      std::chrono::milliseconds timeout, std::string_view what);

  // The next bytes of the stream; an empty view at its end. The view stays valid until the
  // next call. No deadline: a job may print nothing for hours.
  awaitable<Result<std::string_view>> read_some();

  // Writes all of data (a container's stdin, when attached with stdin=1), within timeout.
  awaitable<Result<void>> write(std::string_view data, std::chrono::milliseconds timeout);
  // Ends the sending half (the container's stdin sees its end); reading goes on.
  void shutdown_send();
  // False once the other end has closed the connection (checked without blocking or
  // consuming anything). Bytes waiting to be read count as open.
  bool open_for_reading() const;

  // Closes the connection; a pending read_some() completes with the end of the stream.
  void close();

  explicit HijackedStream(std::unique_ptr<HttpConnection> conn) : conn_(std::move(conn)) {}

 private:
  std::unique_ptr<HttpConnection> conn_;
  std::string pending_;  // bytes read past the header, handed out by the first read_some()
  bool pending_handed_out_ = false;
  std::array<char, 64 * 1024> chunk_{};  // one read: a busy container fills it (fewer calls)
  bool closed_ = false;
};

}  // namespace corral

#include "runtime/docker/hijacked_stream.h"

#include <sys/socket.h>

#include <cerrno>

#include "runtime/docker/engine_api.h"

namespace corral {

namespace {

Error stream_error(std::string_view what, const error_code& ec) {
  if (ec == beast::error::timeout) {
    return make_error(ErrorCode::kTimeout,
                      std::string(what) + ": the container engine did not answer in time");
  }
  return make_error(
      ErrorCode::kUnavailable,
      std::string(what) + ": lost the connection to the container engine: " + ec.message());
}

// Sends req and reads the answer's header; on an error status also its body.
template <typename S>
awaitable<Result<void>> exchange_header(S& stream, beast::flat_buffer& buffer,
                                        const http::request<http::string_body>& req,
                                        std::chrono::milliseconds timeout, std::string_view what) {
  error_code ec;
  stream.expires_after(timeout);
  co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return stream_error(what, ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return stream_error(what, ec);
  int status = static_cast<int>(parser.get().result_int());
  if (status == 101 || status == 200) {
    stream.expires_never();
    co_return ok_result();
  }
  if (!parser.is_done()) {
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
  }
  co_return docker_api::engine_error(status, parser.get().body(), what);
}

template <typename S>
awaitable<Result<size_t>> read_chunk(S& stream, asio::mutable_buffer into) {
  error_code ec;
  size_t n = co_await stream.async_read_some(into, asio::redirect_error(use_awaitable, ec));
  if (ec == asio::error::eof || ec == asio::error::operation_aborted ||
      ec == asio::error::bad_descriptor) {
    co_return size_t{0};
  }
  if (ec) co_return stream_error("reading the container's output", ec);
  co_return n;
}

}  // namespace

awaitable<Result<std::unique_ptr<HijackedStream>>> HijackedStream::open(
    const Endpoint& endpoint, http::request<http::string_body> req,
    std::chrono::milliseconds timeout, std::string_view what) {
  auto connected = co_await HttpConnection::connect(endpoint, timeout);
  if (!connected.ok()) co_return connected.error();
  auto conn = std::move(connected.value());
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  Result<void> answered;
  if (auto* tcp_stream = std::get_if<0>(&conn->stream())) {
    answered = co_await exchange_header(*tcp_stream, conn->buffer(), req, timeout, what);
  } else {
    answered =
        co_await exchange_header(std::get<1>(conn->stream()), conn->buffer(), req, timeout, what);
  }
  if (!answered.ok()) co_return answered.error();
  auto stream = std::make_unique<HijackedStream>(std::move(conn));
  auto& buffer = stream->conn_->buffer();
  stream->pending_ = beast::buffers_to_string(buffer.data());
  buffer.consume(buffer.size());
  co_return stream;
}

awaitable<Result<std::string_view>> HijackedStream::read_some() {
  if (!pending_handed_out_) {
    // First the bytes Beast read past the header (valid until the next call).
    pending_handed_out_ = true;
    if (!pending_.empty()) co_return std::string_view(pending_);
  }
  pending_.clear();
  if (closed_) co_return std::string_view();
  Result<size_t> n = size_t{0};
  if (auto* tcp_stream = std::get_if<0>(&conn_->stream())) {
    n = co_await read_chunk(*tcp_stream, asio::buffer(chunk_));
  } else {
    n = co_await read_chunk(std::get<1>(conn_->stream()), asio::buffer(chunk_));
  }
  if (!n.ok()) co_return n.error();
  co_return std::string_view(chunk_.data(), n.value());
}

awaitable<Result<void>> HijackedStream::write(std::string_view data,
                                              std::chrono::milliseconds timeout) {
  auto send = [&](auto& stream) -> awaitable<error_code> {
    error_code ec;
    stream.expires_after(timeout);
    co_await asio::async_write(stream, asio::buffer(data.data(), data.size()),
                               asio::redirect_error(use_awaitable, ec));
    stream.expires_never();
    co_return ec;
  };
  error_code ec;
  if (auto* tcp_stream = std::get_if<0>(&conn_->stream())) {
    ec = co_await send(*tcp_stream);
  } else {
    ec = co_await send(std::get<1>(conn_->stream()));
  }
  if (ec) co_return stream_error("writing to the container's stdin", ec);
  co_return ok_result();
}

void HijackedStream::shutdown_send() {
  error_code ec;
  std::visit([&](auto& stream) { stream.socket().shutdown(asio::socket_base::shutdown_send, ec); },
             conn_->stream());
}

bool HijackedStream::open_for_reading() const {
  if (closed_) return false;
  if (!pending_handed_out_ && !pending_.empty()) return true;
  int fd =
      std::visit([](auto& stream) { return static_cast<int>(stream.socket().native_handle()); },
                 const_cast<HttpConnection&>(*conn_).stream());
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return true;
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

void HijackedStream::close() {
  closed_ = true;
  error_code ec;
  if (auto* tcp_stream = std::get_if<0>(&conn_->stream())) {
    tcp_stream->socket().close(ec);
  } else {
    std::get<1>(conn_->stream()).socket().close(ec);
  }
}

}  // namespace corral

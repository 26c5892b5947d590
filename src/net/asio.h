// Common Asio/Beast aliases and helpers for coroutine code.
#pragma once

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>: it comes
// first, in a block of its own (clang-format sorts within a block).
#include <atomic>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

// Asio and Beast themselves.
#include <boost/asio.hpp>
#include <boost/beast.hpp>

namespace corral {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using unix_socket = boost::asio::local::stream_protocol;
template <typename T>
using awaitable = boost::asio::awaitable<T>;
using boost::asio::use_awaitable;
using error_code = boost::system::error_code;

// Runs fn on pool (a thread that may block, e.g. on the store) and resumes the calling
// coroutine on its own executor with fn's result.
template <typename F>
auto run_blocking(asio::thread_pool& pool, F fn) -> awaitable<decltype(fn())> {
  using R = decltype(fn());
  auto initiate = [&pool, fn = std::move(fn)](auto handler) mutable {
    asio::post(pool, [fn = std::move(fn), handler = std::move(handler)]() mutable {
      R result = fn();
      auto ex = asio::get_associated_executor(handler);
      asio::dispatch(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  };
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(R)>(std::move(initiate),
                                                                            use_awaitable);
}

// Waits ms on a timer of the current executor (for retry backoff, not for correctness).
inline awaitable<void> async_sleep(std::chrono::milliseconds ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(ms);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace corral

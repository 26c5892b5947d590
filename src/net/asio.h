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

// Runs every fn of fns on pool at once (each on a thread that may block) and resumes the
// calling coroutine on its own executor when all are done, with their results in order.
// Calls that would each wait for a commit share one this way (SQLite's group commit).
template <typename F>
auto run_blocking_all(asio::thread_pool& pool, std::vector<F> fns)
    -> awaitable<std::vector<decltype(std::declval<F&>()())>> {
  using R = decltype(std::declval<F&>()());
  if (fns.empty()) co_return std::vector<R>{};
  struct Shared {
    std::vector<F> fns;
    std::vector<std::optional<R>> results;
    std::atomic<size_t> left;
  };
  auto shared = std::make_shared<Shared>();
  shared->results.resize(fns.size());
  shared->left = fns.size();
  shared->fns = std::move(fns);
  auto initiate = [&pool, shared](auto handler) {
    using Handler = decltype(handler);
    auto done = std::make_shared<Handler>(std::move(handler));
    for (size_t i = 0; i < shared->fns.size(); ++i) {
      asio::post(pool, [shared, done, i] {
        shared->results[i].emplace(shared->fns[i]());
        if (shared->left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        std::vector<R> out;
        out.reserve(shared->results.size());
        for (auto& r : shared->results) out.push_back(std::move(*r));
        auto ex = asio::get_associated_executor(*done);
        asio::dispatch(
            ex, [done, out = std::move(out)]() mutable { std::move (*done)(std::move(out)); });
      });
    }
  };
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(std::vector<R>)>(
      std::move(initiate), use_awaitable);
}

// Waits ms on a timer of the current executor (for retry backoff, not for correctness).
inline awaitable<void> async_sleep(std::chrono::milliseconds ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(ms);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

}  // namespace corral

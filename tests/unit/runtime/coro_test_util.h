// Drives runtime coroutines from a test: run_coro() spawns one on an io_context and runs
// the context until it completes or a deadline passes (a failure, never a sleep).
// Also used by tests/integration/runtime/.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>

#include "common/result.h"
#include "net/asio.h"

namespace corral::testing {

template <typename T>
T run_coro(asio::io_context& io, awaitable<T> coro,
           std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e, T value) {
    failure = e;
    out.emplace(std::move(value));
  });
  io.restart();
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!out && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  if (failure) std::rethrow_exception(failure);
  if (!out) {
    ADD_FAILURE() << "the coroutine did not finish within " << limit.count() << " ms";
    return T(make_error(ErrorCode::kTimeout, "test deadline passed"));
  }
  return std::move(*out);
}

// Runs io until pred() holds or the deadline passes; returns pred().
template <typename Pred>
bool run_until(asio::io_context& io, Pred pred,
               std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  io.restart();
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  return pred();
}

}  // namespace corral::testing

// A one-shot event for coroutines on ONE thread (or strand): set() wakes every waiter.
// Waiting is a timer that set() cancels, so it costs nothing while idle.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

#include "net/asio.h"

namespace corral {

class Event {
 public:
  void set() {
    set_ = true;
    for (auto* t : waiters_) t->cancel();
  }
  void reset() { set_ = false; }
  bool is_set() const { return set_; }

  // Returns true when set, false when the deadline came first.
  awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
    if (set_) co_return true;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(deadline);
    waiters_.push_back(&timer);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &timer));
    co_return set_;
  }
  awaitable<bool> wait_for(std::chrono::milliseconds timeout) {
    co_return co_await wait_until(std::chrono::steady_clock::now() + timeout);
  }
  awaitable<void> wait() {
    while (!set_) co_await wait_until(std::chrono::steady_clock::time_point::max());
  }

 private:
  bool set_ = false;
  std::vector<asio::steady_timer*> waiters_;
};

}  // namespace corral

// Time is injected: production code takes a Clock&, tests advance a ManualClock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace corral {

// Milliseconds since the Unix epoch.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeMs now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start = 1'700'000'000'000) : now_(start) {}
  TimeMs now_ms() const override { return now_.load(); }
  void advance_ms(TimeMs delta) { now_ += delta; }
  void set_ms(TimeMs t) { now_ = t; }

 private:
  std::atomic<TimeMs> now_;
};

// RFC 3339 UTC with milliseconds, e.g. 2026-11-22T01:53:38.123Z. 0 renders as "".
std::string format_time(TimeMs t);

}  // namespace corral

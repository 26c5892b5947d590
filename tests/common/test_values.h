// Small helpers and constants several unit tests share. Each is defined once here, so that
// the tests can be compiled together as one translation unit (the unity build).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/cron.h"
#include "common/timezone.h"
#include "store/store.h"

namespace corral {

// An instant in UTC, given as a civil date and time.
inline TimeMs utc(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return (days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) * 1000;
}

// A cron expression the test expects to parse (a failure is reported, "* * * * *" used).
inline CronExpr cron(std::string_view text) {
  auto expr = CronExpr::parse(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << (expr.ok() ? "" : expr.error().message);
  return expr.ok() ? *expr : *CronExpr::parse("* * * * *");
}

// One frame of the Docker Engine API's multiplexed stream: kind (1 stdout, 2 stderr), three
// zero bytes, the payload's length big-endian, the payload.
inline std::string docker_frame(uint8_t kind, const std::string& payload) {
  std::string out{static_cast<char>(kind), 0, 0, 0};
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((n >> shift) & 0xff);
  return out + payload;
}

inline constexpr TimeMs kMinute = 60'000;
inline constexpr TimeMs kHour = 60 * kMinute;
inline constexpr TimeMs kTestNow = 1'700'000'000'000;  // a fixed "now" for pure rules
inline constexpr TimeMs kTestLease = 30'000;           // the lease the store tests give claims
inline constexpr TimeMs kTestStale = 90'000;           // the heartbeat timeout they assume
inline const JobMatcher kAnyJob = [](const Runner&, const Job&) { return true; };

}  // namespace corral

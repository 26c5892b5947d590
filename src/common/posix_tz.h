// The POSIX TZ strings found in TZif footers, e.g. "CET-1CEST,M3.5.0,M10.5.0/3": a standard
// offset and, optionally, a daylight offset with the yearly rules for switching between them.
// TimeZone uses them for instants after the last transition a zone's TZif table lists, which
// date/tz.h (3.0.1) does not.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace corral {

// One switching rule: on which day of a year, and at what local time (seconds, may be negative
// or past 24h in TZif v3+ footers, e.g. "M3.5.0/-1" or "J365/25").
struct PosixTzDate {
  enum class Kind {
    kMonthWeekDay,  // Mm.w.d: weekday d (0 = Sunday) of week w (1-4, 5 = last) of month m
    kJulian,        // Jn: day 1-365, February 29 never counted
    kDayOfYear,     // n: day 0-365, February 29 counted
  };
  Kind kind = Kind::kMonthWeekDay;
  int month = 1;
  int week = 1;
  int weekday = 0;
  int day = 0;
  int32_t time_s = 2 * 3600;

  // Days since the epoch of this rule's day in `year`.
  int64_t day_in_year(int year) const;
};

struct PosixTz {
  int32_t std_offset_s = 0;  // seconds east of UTC (POSIX writes them west: "CET-1" is +3600)
  bool has_dst = false;
  int32_t dst_offset_s = 0;
  PosixTzDate dst_start;
  PosixTzDate dst_end;

  struct Change {
    int64_t at_s;  // UTC seconds
    int32_t offset_before_s;
    int32_t offset_after_s;
  };
  // The daylight-saving changes of the given years, in time order (none without DST).
  std::vector<Change> changes_in_years(int first_year, int last_year) const;
  int32_t offset_at(int64_t utc_s) const;
};

Result<PosixTz> parse_posix_tz(std::string_view text);

}  // namespace corral

// Standard 5-field cron expressions evaluated in an IANA time zone, for scheduled jobs.
//
//   ┌──────── minute        0-59
//   │ ┌────── hour          0-23
//   │ │ ┌──── day of month  1-31
//   │ │ │ ┌── month         1-12 or jan-dec
//   │ │ │ │ ┌ day of week   0-7 or sun-sat (0 and 7 are Sunday)
//   0 2 * * *
//
// Each field is `*` or a comma list of `n`, `a-b`, `*/s`, `a-b/s`; names are case-insensitive.
// Macros: @hourly @daily @midnight @weekly @monthly @yearly @annually.
// Day matching follows Vixie cron: when both day fields are restricted (do not start with `*`)
// a day matches if EITHER matches ("0 0 1 * mon": the 1st and every Monday); otherwise both
// must match.
//
// Daylight-saving changes (next_after), as Vixie cron / cronie do:
//   - Fixed-time expressions (the hour field is not `*`, e.g. "30 2 * * *", "0 */6 * * *")
//     name wall-clock times. A time the clocks skip (02:30 on the spring-forward day in
//     Berlin) runs once at the first instant after the gap (03:00 CEST); several skipped times
//     collapse into that one run. A time that happens twice (fall back) runs once, at its
//     first occurrence.
//   - Every-hour expressions (the hour field is `*`, e.g. "*/15 * * * *") follow elapsed time:
//     they tick whenever the wall clock shows a matching minute, so skipped wall times do not
//     run and a repeated hour runs again (every 15 real minutes throughout).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "common/timezone.h"

namespace corral {

class CronExpr {
 public:
  // Errors (kInvalidSpec) name the field and what it allows, e.g.
  // "cron field 2 (hour) '25': must be 0-23".
  static Result<CronExpr> parse(std::string_view text);

  // The first tick strictly after `after_utc`, evaluated on the wall clock of `tz` with the
  // DST rules above. nullopt when there is none within about 8 years ("0 0 30 2 *"); 8 so that
  // February 29 is still found across 2100, which is not a leap year.
  std::optional<TimeMs> next_after(TimeMs after_utc, const TimeZone& tz) const;

  // Whether a wall-clock reading matches all five fields (seconds are ignored).
  bool matches(const CivilTime& local) const;

  // The normalized expression: single spaces, numbers instead of names, macros expanded
  // ("@weekly" -> "0 0 * * 0").
  const std::string& to_string() const { return normalized_; }

  // True when the hour field is `*`: DST changes are followed in elapsed time (see above).
  bool every_hour() const { return every_hour_; }

 private:
  bool day_matches(int day_of_month, int day_of_week) const;

  uint64_t minutes_ = 0;        // bit n: minute n
  uint32_t hours_ = 0;          // bit n: hour n
  uint32_t days_of_month_ = 0;  // bit n: day n (1-31)
  uint32_t months_ = 0;         // bit n: month n (1-12)
  uint32_t days_of_week_ = 0;   // bit n: weekday n (0 = Sunday .. 6)
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
  bool every_hour_ = false;
  std::string normalized_;
};

}  // namespace corral

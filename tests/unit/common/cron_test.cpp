#include "common/cron.h"

#include <gtest/gtest.h>

#include <string>

#include "common/test_values.h"

namespace corral {
namespace {

// Expected instants were cross-checked with `TZ=<zone> date -d @<seconds>` (tzdata 2025b).

TimeZone zone(std::string_view name) {
  auto tz = TimeZone::load(name);
  EXPECT_TRUE(tz.ok()) << name;
  return tz.ok() ? *tz : TimeZone::utc();
}

std::string parse_error(std::string_view text) {
  auto expr = CronExpr::parse(text);
  if (expr.ok()) return "parsed as " + expr->to_string();
  EXPECT_EQ(expr.error().code, ErrorCode::kInvalidSpec);
  return expr.error().message;
}

// All ticks in (from, to].
std::vector<TimeMs> ticks(const CronExpr& expr, const TimeZone& tz, TimeMs from, TimeMs to) {
  std::vector<TimeMs> out;
  for (auto t = expr.next_after(from, tz); t && *t <= to; t = expr.next_after(*t, tz)) {
    out.push_back(*t);
  }
  return out;
}

// --- parsing ---------------------------------------------------------------------------------

TEST(CronParseTest, NormalizesValidExpressions) {
  EXPECT_EQ(cron("0 2 * * *").to_string(), "0 2 * * *");
  EXPECT_EQ(cron("  */15   *  * * * ").to_string(), "*/15 * * * *");
  EXPECT_EQ(cron("10-50/10 1,2,3 1-15 * *").to_string(), "10-50/10 1,2,3 1-15 * *");
  EXPECT_EQ(cron("0 9 * JAN-Mar mon-FRI").to_string(), "0 9 * 1-3 1-5");
  EXPECT_EQ(cron("0 0 * dec sun").to_string(), "0 0 * 12 0");
  EXPECT_EQ(cron("0 0 * * 7").to_string(), "0 0 * * 0");
  EXPECT_EQ(cron("0 0 * * 5-7").to_string(), "0 0 * * 5-7");
  EXPECT_EQ(cron("0 */6 * * *").to_string(), "0 */6 * * *");
}

TEST(CronParseTest, MacrosExpand) {
  EXPECT_EQ(cron("@hourly").to_string(), "0 * * * *");
  EXPECT_EQ(cron("@daily").to_string(), "0 0 * * *");
  EXPECT_EQ(cron("@midnight").to_string(), "0 0 * * *");
  EXPECT_EQ(cron("@weekly").to_string(), "0 0 * * 0");
  EXPECT_EQ(cron("@monthly").to_string(), "0 0 1 * *");
  EXPECT_EQ(cron("@yearly").to_string(), "0 0 1 1 *");
  EXPECT_EQ(cron("@ANNUALLY").to_string(), "0 0 1 1 *");
}

TEST(CronParseTest, ErrorsNameTheFieldAndWhatItAllows) {
  EXPECT_EQ(parse_error("0 25 * * *"), "cron field 2 (hour) '25': must be 0-23");
  EXPECT_EQ(parse_error("60 * * * *"), "cron field 1 (minute) '60': must be 0-59");
  EXPECT_EQ(parse_error("0 0 0 * *"), "cron field 3 (day-of-month) '0': must be 1-31");
  EXPECT_EQ(parse_error("0 0 32 * *"), "cron field 3 (day-of-month) '32': must be 1-31");
  EXPECT_EQ(parse_error("0 0 * 13 *"), "cron field 4 (month) '13': must be 1-12 or jan-dec");
  EXPECT_EQ(parse_error("0 0 * foo *"), "cron field 4 (month) 'foo': must be 1-12 or jan-dec");
  EXPECT_EQ(parse_error("0 0 * * 8"),
            "cron field 5 (day-of-week) '8': must be 0-7 or sun-sat (0 and 7 are Sunday)");
  EXPECT_EQ(parse_error("0 0 * * monday"),
            "cron field 5 (day-of-week) 'monday': must be 0-7 or sun-sat (0 and 7 are Sunday)");
  EXPECT_EQ(parse_error("*/0 * * * *"), "cron field 1 (minute) '*/0': step must be 1-59");
  EXPECT_EQ(parse_error("0 */x * * *"), "cron field 2 (hour) '*/x': step must be 1-23");
  // A step of many digits is refused, not overflowed (the fuzzer found it: UBSan).
  EXPECT_EQ(parse_error("*/88888888888 * * * *"),
            "cron field 1 (minute) '*/88888888888': step must be 1-59");
  EXPECT_EQ(parse_error("50-10 * * * *"),
            "cron field 1 (minute) '50-10': range start is after its end; write the smaller "
            "value first");
  EXPECT_EQ(parse_error("5/10 * * * *"),
            "cron field 1 (minute) '5/10': a step needs a range: write '*/s' or 'a-b/s'");
  EXPECT_EQ(parse_error("1,,2 * * * *"),
            "cron field 1 (minute) '1,,2': empty list element; write e.g. 1,15");
  EXPECT_EQ(parse_error("-1 * * * *"), "cron field 1 (minute) '-1': must be 0-59");
  EXPECT_EQ(parse_error("1- * * * *"), "cron field 1 (minute) '1-': must be 0-59");
  EXPECT_NE(parse_error("0 0 * *").find("has 4 fields; expected 5"), std::string::npos);
  EXPECT_NE(parse_error("0 0 0 * * *").find("has 6 fields; expected 5"), std::string::npos);
  EXPECT_NE(parse_error("").find("has 0 fields; expected 5"), std::string::npos);
  EXPECT_NE(parse_error("@reboot").find("use @hourly, @daily"), std::string::npos);
  EXPECT_NE(parse_error("@fortnightly").find("'@fortnightly' is not supported"), std::string::npos);
}

// --- next_after in UTC -----------------------------------------------------------------------

TEST(CronNextTest, StrictlyAfterInUtc) {
  TimeZone tz = TimeZone::utc();
  EXPECT_EQ(cron("*/15 * * * *").next_after(utc(2026, 1, 1, 0, 7), tz), utc(2026, 1, 1, 0, 15));
  EXPECT_EQ(cron("*/15 * * * *").next_after(utc(2026, 1, 1, 0, 15), tz), utc(2026, 1, 1, 0, 30));
  EXPECT_EQ(cron("*/15 * * * *").next_after(utc(2026, 1, 1, 0, 15) - 1, tz),
            utc(2026, 1, 1, 0, 15));
  EXPECT_EQ(cron("0 2 * * *").next_after(utc(2026, 1, 1, 2, 0), tz), utc(2026, 1, 2, 2, 0));
  EXPECT_EQ(cron("59 23 31 12 *").next_after(utc(2026, 6, 1, 0, 0), tz), utc(2026, 12, 31, 23, 59));
}

TEST(CronNextTest, StepRanges) {
  TimeZone tz = TimeZone::utc();
  auto got = ticks(cron("10-50/10 * * * *"), tz, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 1, 10));
  EXPECT_EQ(got, (std::vector<TimeMs>{utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 20),
                                      utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 0, 40),
                                      utc(2026, 1, 1, 0, 50), utc(2026, 1, 1, 1, 10)}));
  auto hours = ticks(cron("0 1-10/4 * * *"), tz, utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0));
  EXPECT_EQ(hours, (std::vector<TimeMs>{utc(2026, 1, 1, 1, 0), utc(2026, 1, 1, 5, 0),
                                        utc(2026, 1, 1, 9, 0)}));
}

TEST(CronNextTest, LeapDay) {
  TimeZone tz = TimeZone::utc();
  CronExpr leap = cron("0 0 29 2 *");
  EXPECT_EQ(leap.next_after(utc(2026, 11, 22, 0, 0), tz), utc(2028, 2, 29, 0, 0));
  EXPECT_EQ(leap.next_after(utc(2028, 2, 29, 0, 0), tz), utc(2032, 2, 29, 0, 0));
  // 2100 is not a leap year: eight years from 2096 to 2104.
  EXPECT_EQ(leap.next_after(utc(2096, 2, 29, 0, 0), tz), utc(2104, 2, 29, 0, 0));
  // Skipping by month keeps this cheap: 200 look-ups of a tick four years away.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(leap.next_after(utc(2028, 3, 1, 0, 0), tz));
}

TEST(CronNextTest, ImpossibleDateHasNoTick) {
  EXPECT_EQ(cron("0 0 30 2 *").next_after(utc(2026, 1, 1, 0, 0), TimeZone::utc()), std::nullopt);
  EXPECT_EQ(cron("0 0 31 4,6,9,11 *").next_after(utc(2026, 1, 1, 0, 0), TimeZone::utc()),
            std::nullopt);
}

TEST(CronNextTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  TimeZone tz = TimeZone::utc();
  // The 13th or any Friday (2026-11-01 is a Sunday).
  auto got = ticks(cron("0 0 13 * fri"), tz, utc(2026, 11, 1, 0, 0), utc(2026, 11, 21, 0, 0));
  EXPECT_EQ(got, (std::vector<TimeMs>{utc(2026, 11, 6, 0, 0), utc(2026, 11, 13, 0, 0),
                                      utc(2026, 11, 20, 0, 0)}));
  auto first_or_monday =
      ticks(cron("0 0 1 * 1"), tz, utc(2026, 11, 22, 0, 0), utc(2026, 12, 8, 0, 0));
  EXPECT_EQ(first_or_monday, (std::vector<TimeMs>{utc(2026, 11, 23, 0, 0), utc(2026, 11, 30, 0, 0),
                                                  utc(2026, 12, 1, 0, 0), utc(2026, 12, 7, 0, 0)}));
  // Vixie: "1-31" is restricted, so it ORs with Monday (every day); "*/1" starts with '*', so
  // it is not, and only Mondays match.
  EXPECT_EQ(ticks(cron("0 0 1-31 * 1"), tz, utc(2026, 11, 1, 0, 0), utc(2026, 11, 8, 0, 0)).size(),
            7u);
  EXPECT_EQ(ticks(cron("0 0 */1 * 1"), tz, utc(2026, 11, 1, 0, 0), utc(2026, 11, 8, 0, 0)),
            (std::vector<TimeMs>{utc(2026, 11, 2, 0, 0)}));
  // Only one restricted: both must match.
  EXPECT_EQ(cron("0 0 * * 1").next_after(utc(2026, 11, 22, 0, 0), tz), utc(2026, 11, 23, 0, 0));
}

TEST(CronNextTest, WeeklyAndSevenIsSunday) {
  TimeZone tz = TimeZone::utc();
  EXPECT_EQ(cron("@weekly").next_after(utc(2026, 11, 18, 9, 0), tz), utc(2026, 11, 22, 0, 0));
  EXPECT_EQ(cron("0 0 * * 7").next_after(utc(2026, 11, 18, 9, 0), tz), utc(2026, 11, 22, 0, 0));
  EXPECT_EQ(cron("@monthly").next_after(utc(2026, 11, 18, 9, 0), tz), utc(2026, 12, 1, 0, 0));
  EXPECT_EQ(cron("@yearly").next_after(utc(2026, 11, 18, 9, 0), tz), utc(2027, 1, 1, 0, 0));
  EXPECT_EQ(cron("@hourly").next_after(utc(2026, 11, 18, 9, 0), tz), utc(2026, 11, 18, 10, 0));
}

// --- next_after across daylight-saving changes -----------------------------------------------

// Berlin 2026-03-29: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
TEST(CronDstTest, BerlinSpringForwardRunsSkippedTimeOnceAtTheEndOfTheGap) {
  TimeZone berlin = zone("Europe/Berlin");
  CronExpr nightly = cron("0 2 * * *");
  EXPECT_EQ(nightly.next_after(utc(2026, 3, 28, 12, 0), berlin), utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(nightly.next_after(utc(2026, 3, 29, 1, 0), berlin), utc(2026, 3, 30, 0, 0));
  EXPECT_EQ(cron("30 2 * * *").next_after(utc(2026, 3, 28, 12, 0), berlin), utc(2026, 3, 29, 1, 0));
  // All four skipped quarter hours collapse into the one run at 03:00 CEST.
  EXPECT_EQ(
      ticks(cron("*/15 2 * * *"), berlin, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0)),
      (std::vector<TimeMs>{utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0), utc(2026, 3, 30, 0, 15),
                           utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 0, 45)}));
  // The day before and after are ordinary.
  EXPECT_EQ(nightly.next_after(utc(2026, 3, 27, 12, 0), berlin), utc(2026, 3, 28, 1, 0));
}

// Berlin 2026-10-25: 03:00 CEST (01:00 UTC) becomes 02:00 CET; 02:00-02:59 happens twice.
TEST(CronDstTest, BerlinFallBackRunsRepeatedTimeOnce) {
  TimeZone berlin = zone("Europe/Berlin");
  auto nightly =
      ticks(cron("0 2 * * *"), berlin, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0));
  EXPECT_EQ(nightly, (std::vector<TimeMs>{utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 1, 0)}));
  auto half_past =
      ticks(cron("30 2 * * *"), berlin, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0));
  EXPECT_EQ(half_past, (std::vector<TimeMs>{utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)}));
}

TEST(CronDstTest, EveryHourExpressionsFollowElapsedTime) {
  TimeZone berlin = zone("Europe/Berlin");
  CronExpr quarter = cron("*/15 * * * *");
  // Fall back: 02:45 CEST, then 02:00 CET fifteen minutes later; a 25-hour day has 100 ticks.
  EXPECT_EQ(quarter.next_after(utc(2026, 10, 25, 0, 45), berlin), utc(2026, 10, 25, 1, 0));
  EXPECT_EQ(
      ticks(quarter, berlin, utc(2026, 10, 24, 22, 0) - 1, utc(2026, 10, 25, 23, 0) - 1).size(),
      100u);
  // Spring forward: 01:45 CET, then 03:00 CEST fifteen minutes later; a 23-hour day has 92.
  EXPECT_EQ(quarter.next_after(utc(2026, 3, 29, 0, 45), berlin), utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(ticks(quarter, berlin, utc(2026, 3, 28, 23, 0) - 1, utc(2026, 3, 29, 22, 0) - 1).size(),
            92u);
  // "30 * * * *": 01:30 CET, then 03:30 CEST one hour later; 02:30 does not exist.
  EXPECT_EQ(cron("30 * * * *").next_after(utc(2026, 3, 29, 0, 30), berlin),
            utc(2026, 3, 29, 1, 30));
  // ... and in the repeated hour it runs in both passes.
  EXPECT_EQ(ticks(cron("30 * * * *"), berlin, utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0)),
            (std::vector<TimeMs>{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)}));
}

// New York 2026-03-08: 02:00 EST (07:00 UTC) becomes 03:00 EDT.
TEST(CronDstTest, NewYorkSpringForward) {
  TimeZone new_york = zone("America/New_York");
  auto got = ticks(cron("30 2 * * *"), new_york, utc(2026, 3, 7, 12, 0), utc(2026, 3, 9, 12, 0));
  EXPECT_EQ(got, (std::vector<TimeMs>{utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)}));
  // The day before still runs at 02:30 EST.
  EXPECT_EQ(cron("30 2 * * *").next_after(utc(2026, 3, 6, 12, 0), new_york),
            utc(2026, 3, 7, 7, 30));
}

// New York 2026-11-01: 02:00 EDT (06:00 UTC) becomes 01:00 EST; 01:30 happens twice.
TEST(CronDstTest, NewYorkFallBackRunsOnce) {
  TimeZone new_york = zone("America/New_York");
  auto got = ticks(cron("30 1 * * *"), new_york, utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0));
  EXPECT_EQ(got, (std::vector<TimeMs>{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)}));
  // 02:00 happens once (in EST) on that day.
  EXPECT_EQ(cron("0 2 * * *").next_after(utc(2026, 10, 31, 12, 0), new_york),
            utc(2026, 11, 1, 7, 0));
}

TEST(CronDstTest, FarFutureUsesTheFooterRule) {
  // Berlin 2040-03-25: the TZif table has ended, the POSIX rule still skips 02:00-03:00.
  TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(cron("30 2 * * *").next_after(utc(2040, 3, 24, 12, 0), berlin), utc(2040, 3, 25, 1, 0));
  EXPECT_EQ(cron("0 12 * * *").next_after(utc(2040, 7, 1, 0, 0), berlin), utc(2040, 7, 1, 10, 0));
}

TEST(CronDstTest, OddOffsets) {
  // Kathmandu is +05:45 all year.
  EXPECT_EQ(cron("0 9 * * *").next_after(utc(2026, 6, 1, 0, 0), zone("Asia/Kathmandu")),
            utc(2026, 6, 1, 3, 15));
  // Lord Howe moves 30 minutes: 2026-10-04 02:00 +10:30 becomes 02:30 +11.
  TimeZone lord_howe = zone("Australia/Lord_Howe");
  EXPECT_EQ(cron("0 2 * * *").next_after(utc(2026, 10, 3, 0, 0), lord_howe),
            utc(2026, 10, 3, 15, 30));
  // 2026-04-05 02:00 +11 becomes 01:30 +10:30; 01:45 happens twice and runs once.
  EXPECT_EQ(ticks(cron("45 1 * * *"), lord_howe, utc(2026, 4, 4, 0, 0), utc(2026, 4, 5, 0, 0)),
            (std::vector<TimeMs>{utc(2026, 4, 4, 14, 45)}));
}

// --- next_after against a minute-by-minute reference ------------------------------------------

// The documented rules, stated the slow way: walk real time minute by minute.
std::vector<TimeMs> reference_ticks(const CronExpr& expr, const TimeZone& tz, TimeMs from,
                                    TimeMs to) {
  std::vector<TimeMs> out;
  for (TimeMs t = from - from % kMinute + kMinute; t <= to; t += kMinute) {
    CivilTime local = tz.to_local(t);
    bool tick = false;
    if (expr.matches(local)) {
      // Every-hour expressions tick on each matching reading; fixed-time ones only on a
      // reading's first occurrence.
      tick = expr.every_hour() || tz.from_local(local).earlier == t;
    }
    int jump_s = tz.offset_at(t) - tz.offset_at(t - 1000);
    if (!expr.every_hour() && jump_s > 0) {
      // Clocks jumped forward at t: fixed-time readings in the gap run now.
      CivilTime before = tz.to_local(t - 1000);  // last second before the jump
      for (int m = 0; m < jump_s / 60; ++m) {
        TimeMs wall_ms = (days_from_civil(before.year, before.month, before.day) * 86400 +
                          before.hour * 3600 + before.minute * 60 + 60 + m * 60) *
                         1000;
        CivilTime skipped = civil_from_seconds(wall_ms / 1000);
        if (expr.matches(skipped)) tick = true;
      }
    }
    if (tick) out.push_back(t);
  }
  return out;
}

TEST(CronNextTest, MatchesAMinuteByMinuteReferenceAcrossDstChanges) {
  struct Day {
    const char* zone;
    TimeMs from;
  };
  const Day days[] = {
      {"Europe/Berlin", utc(2026, 3, 28, 12, 0)},
      {"Europe/Berlin", utc(2026, 10, 24, 12, 0)},
      {"America/New_York", utc(2026, 3, 7, 12, 0)},
      {"America/New_York", utc(2026, 10, 31, 12, 0)},
      {"Australia/Lord_Howe", utc(2026, 4, 4, 0, 0)},
      {"Australia/Lord_Howe", utc(2026, 10, 3, 0, 0)},
      {"Asia/Kathmandu", utc(2026, 6, 1, 0, 0)},
      {"Europe/Berlin", utc(2040, 10, 27, 12, 0)},
  };
  const char* exprs[] = {"0 2 * * *",   "30 2 * * *",  "*/15 2 * * *",  "*/15 * * * *",
                         "30 * * * *",  "45 1 * * *",  "0 */2 * * *",   "* 1-3 * * *",
                         "*/7 * * * *", "0 0 * * sun", "15 1,2,3 * * 0"};
  for (const Day& day : days) {
    TimeZone tz = zone(day.zone);
    for (const char* text : exprs) {
      CronExpr expr = cron(text);
      TimeMs to = day.from + 2 * 86'400'000;
      EXPECT_EQ(ticks(expr, tz, day.from, to), reference_ticks(expr, tz, day.from, to))
          << text << " in " << day.zone;
    }
  }
}

}  // namespace
}  // namespace corral

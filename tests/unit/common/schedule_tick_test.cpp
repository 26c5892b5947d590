#include "common/schedule_tick.h"

#include <gtest/gtest.h>

#include "common/test_values.h"

namespace corral {
namespace {

TEST(CronDueTickTest, DowntimeAcrossThreeTicksRunsOnlyTheLast) {
  // Last handled 2026-11-01 02:00; the server was down until 11-04 12:00, missing 02:00 on the
  // 2nd, 3rd and 4th.
  auto due =
      due_tick(cron("0 2 * * *"), TimeZone::utc(), utc(2026, 11, 1, 2, 0), utc(2026, 11, 4, 12, 0));
  EXPECT_EQ(due, utc(2026, 11, 4, 2, 0));
  // Once recorded, nothing more is due until the next tick.
  EXPECT_EQ(due_tick(cron("0 2 * * *"), TimeZone::utc(), *due, utc(2026, 11, 4, 12, 0)),
            std::nullopt);
}

TEST(CronDueTickTest, TickIsDueAtExactlyItsTimeAndNotBefore) {
  CronExpr nightly = cron("0 2 * * *");
  TimeMs created = utc(2026, 11, 1, 12, 0);
  EXPECT_EQ(due_tick(nightly, TimeZone::utc(), created, utc(2026, 11, 2, 2, 0) - 1), std::nullopt);
  EXPECT_EQ(due_tick(nightly, TimeZone::utc(), created, utc(2026, 11, 2, 2, 0)),
            utc(2026, 11, 2, 2, 0));
  EXPECT_EQ(due_tick(nightly, TimeZone::utc(), created, created), std::nullopt);
}

TEST(CronDueTickTest, LongDowntimeWithDenseAndSparseExpressions) {
  TimeMs now = utc(2026, 11, 22, 5, 11) + 7'000;
  EXPECT_EQ(due_tick(cron("* * * * *"), TimeZone::utc(), utc(2026, 1, 1, 0, 0), now),
            utc(2026, 11, 22, 5, 11));
  EXPECT_EQ(due_tick(cron("@yearly"), TimeZone::utc(), utc(2020, 6, 1, 0, 0), now),
            utc(2026, 1, 1, 0, 0));
  EXPECT_EQ(due_tick(cron("0 0 29 2 *"), TimeZone::utc(), utc(2019, 1, 1, 0, 0), now),
            utc(2024, 2, 29, 0, 0));
}

TEST(CronDueTickTest, DowntimeAcrossTheBerlinFallBack) {
  auto berlin = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  // Down from before 02:30 CEST to after 02:30 CET: the repeated time still runs once.
  EXPECT_EQ(
      due_tick(cron("30 2 * * *"), *berlin, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 2, 0)),
      utc(2026, 10, 25, 0, 30));
}

TEST(CronCooldownTest, TickWithinCooldownOfLastRunIsSkipped) {
  TimeMs tick = utc(2026, 11, 22, 2, 0);
  EXPECT_FALSE(in_cooldown(tick, std::nullopt, 3600));
  EXPECT_TRUE(in_cooldown(tick, tick - 30 * kMinute, 3600));
  EXPECT_FALSE(in_cooldown(tick, tick - 60 * kMinute, 3600));  // exactly the cooldown: runs
  EXPECT_FALSE(in_cooldown(tick, tick - 30 * kMinute, 0));
}

TEST(CronCooldownTest, DecideScheduleRunsSkipsOrWaits) {
  CronExpr quarter = cron("*/15 * * * *");
  TimeZone tz = TimeZone::utc();
  TimeMs tick = utc(2026, 11, 22, 5, 15);

  auto wait = decide_schedule(quarter, tz, tick, tick, 0, tick + 5 * kMinute);
  EXPECT_EQ(wait.action, TickAction::kWait);
  EXPECT_EQ(wait.next_tick, tick + 15 * kMinute);

  auto run =
      decide_schedule(quarter, tz, tick - 15 * kMinute, tick - 15 * kMinute, 600, tick + kMinute);
  EXPECT_EQ(run.action, TickAction::kRun);
  EXPECT_EQ(run.tick, tick);
  EXPECT_EQ(run.next_tick, tick + 15 * kMinute);

  // A manual run ten minutes ago, a cooldown of 30 minutes: this tick is skipped.
  auto skip =
      decide_schedule(quarter, tz, tick - 15 * kMinute, tick - 10 * kMinute, 1800, tick + kMinute);
  EXPECT_EQ(skip.action, TickAction::kSkipCooldown);
  EXPECT_EQ(skip.tick, tick);
}

}  // namespace
}  // namespace corral

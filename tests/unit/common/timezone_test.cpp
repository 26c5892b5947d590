#include "common/timezone.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/test_values.h"

namespace corral {
namespace {

// Expected values were cross-checked with `TZ=<zone> date -d @<seconds>` (tzdata 2025b).

TimeZone load(std::string_view name) {
  auto zone = TimeZone::load(name);
  EXPECT_TRUE(zone.ok()) << (zone.ok() ? "" : zone.error().message);
  return zone.ok() ? *zone : TimeZone::utc();
}

CivilTime civil(int year, int month, int day, int hour, int minute, int second, int weekday) {
  return CivilTime{year, month, day, hour, minute, second, weekday};
}

TEST(TimeZoneTest, UtcAndEtcUtcHaveNoOffset) {
  for (const char* name : {"UTC", "Etc/UTC"}) {
    TimeZone zone = load(name);
    EXPECT_EQ(zone.name(), name);
    EXPECT_EQ(zone.offset_at(utc(2026, 7, 1, 12, 0)), 0);
    EXPECT_EQ(zone.to_local(utc(2026, 11, 22, 5, 11, 7)), civil(2026, 11, 22, 5, 11, 7, 0));
  }
  EXPECT_EQ(TimeZone::utc().offset_at(utc(2040, 1, 1, 0, 0)), 0);
}

TEST(TimeZoneTest, UnknownOrMalformedNamesAreRejectedWithAHint) {
  for (const char* name :
       {"Mars/Olympus_Mons", "Europe/berlin", "Europe", "zone.tab", "", "/etc/passwd",
        "../../../etc/passwd", "Europe/../UTC", "Europe//Berlin", "Europe/Ber lin"}) {
    auto zone = TimeZone::load(name);
    ASSERT_FALSE(zone.ok()) << name;
    EXPECT_EQ(zone.error().code, ErrorCode::kInvalidSpec) << name;
    EXPECT_NE(zone.error().message.find("Europe/Berlin"), std::string::npos)
        << zone.error().message;
  }
}

TEST(TimeZoneTest, BerlinOffsetsAcrossBothChangesOf2026) {
  TimeZone berlin = load("Europe/Berlin");
  EXPECT_EQ(berlin.offset_at(utc(2026, 3, 29, 0, 59, 59)), 3600);
  EXPECT_EQ(berlin.offset_at(utc(2026, 3, 29, 1, 0)), 7200);
  EXPECT_EQ(berlin.offset_at(utc(2026, 10, 25, 0, 59, 59)), 7200);
  EXPECT_EQ(berlin.offset_at(utc(2026, 10, 25, 1, 0)), 3600);
  EXPECT_EQ(berlin.to_local(utc(2026, 3, 29, 0, 59, 59)), civil(2026, 3, 29, 1, 59, 59, 0));
  EXPECT_EQ(berlin.to_local(utc(2026, 3, 29, 1, 0)), civil(2026, 3, 29, 3, 0, 0, 0));
  EXPECT_EQ(berlin.to_local(utc(2026, 10, 25, 1, 0)), civil(2026, 10, 25, 2, 0, 0, 0));
}

TEST(TimeZoneTest, NewYorkOffsetsAcrossBothChangesOf2026) {
  TimeZone new_york = load("America/New_York");
  EXPECT_EQ(new_york.offset_at(utc(2026, 3, 8, 6, 59)), -5 * 3600);
  EXPECT_EQ(new_york.offset_at(utc(2026, 3, 8, 7, 0)), -4 * 3600);
  EXPECT_EQ(new_york.offset_at(utc(2026, 11, 1, 5, 59)), -4 * 3600);
  EXPECT_EQ(new_york.offset_at(utc(2026, 11, 1, 6, 0)), -5 * 3600);
  // Before 1970 and across a day boundary.
  EXPECT_EQ(new_york.to_local(utc(1950, 1, 1, 0, 0)), civil(1949, 12, 31, 19, 0, 0, 6));
}

TEST(TimeZoneTest, FarFutureUsesTheFooterRule) {
  // The TZif table ends in 2037; 2040 is answered by "CET-1CEST,M3.5.0,M10.5.0/3".
  TimeZone berlin = load("Europe/Berlin");
  EXPECT_EQ(berlin.offset_at(utc(2040, 3, 25, 0, 59)), 3600);
  EXPECT_EQ(berlin.offset_at(utc(2040, 3, 25, 1, 0)), 7200);
  EXPECT_EQ(berlin.offset_at(utc(2040, 7, 1, 12, 0)), 7200);
  EXPECT_EQ(berlin.offset_at(utc(2040, 12, 1, 12, 0)), 3600);
  TimeZone new_york = load("America/New_York");
  EXPECT_EQ(new_york.to_local(utc(2040, 11, 4, 6, 0)), civil(2040, 11, 4, 1, 0, 0, 0));
  EXPECT_EQ(new_york.offset_at(utc(2040, 7, 1, 12, 0)), -4 * 3600);
  auto resolved = berlin.from_local(civil(2040, 3, 25, 2, 30, 0, 0));
  EXPECT_EQ(resolved.kind, LocalTimeKind::kSkipped);
  EXPECT_EQ(resolved.transition, utc(2040, 3, 25, 1, 0));
}

TEST(TimeZoneTest, FooterRulesWithNegativeAndMidnightTimes) {
  // Nuuk's footer "<-02>2<-01>,M3.5.0/-1,M10.5.0/0" switches at -1:00 (the Saturday's 23:00)
  // and at 0:00 local time (cross-checked with TZ=America/Nuuk date, as above).
  TimeZone nuuk = load("America/Nuuk");
  EXPECT_EQ(nuuk.offset_at(utc(2040, 3, 25, 0, 59, 59)), -2 * 3600);
  EXPECT_EQ(nuuk.offset_at(utc(2040, 3, 25, 1, 0)), -1 * 3600);
  EXPECT_EQ(nuuk.offset_at(utc(2040, 10, 28, 0, 59, 59)), -1 * 3600);
  EXPECT_EQ(nuuk.to_local(utc(2040, 10, 28, 1, 0)), civil(2040, 10, 27, 23, 0, 0, 6));
}

TEST(TimeZoneTest, OddOffsets) {
  TimeZone kathmandu = load("Asia/Kathmandu");
  EXPECT_EQ(kathmandu.offset_at(utc(2026, 6, 1, 3, 15)), 5 * 3600 + 45 * 60);
  EXPECT_EQ(kathmandu.to_local(utc(2026, 6, 1, 3, 15)), civil(2026, 6, 1, 9, 0, 0, 1));
  // Lord Howe shifts by 30 minutes: +10:30 in winter, +11 in summer.
  TimeZone lord_howe = load("Australia/Lord_Howe");
  EXPECT_EQ(lord_howe.offset_at(utc(2026, 10, 3, 15, 29, 59)), 10 * 3600 + 1800);
  EXPECT_EQ(lord_howe.offset_at(utc(2026, 10, 3, 15, 30)), 11 * 3600);
  EXPECT_EQ(lord_howe.offset_at(utc(2040, 7, 1, 0, 0)), 10 * 3600 + 1800);
  EXPECT_EQ(lord_howe.offset_at(utc(2040, 12, 1, 0, 0)), 11 * 3600);
  auto gap = lord_howe.from_local(civil(2026, 10, 4, 2, 15, 0, 0));
  EXPECT_EQ(gap.kind, LocalTimeKind::kSkipped);
  EXPECT_EQ(gap.transition, utc(2026, 10, 3, 15, 30));
  auto overlap = lord_howe.from_local(civil(2026, 4, 5, 1, 45, 0, 0));
  EXPECT_EQ(overlap.kind, LocalTimeKind::kRepeated);
  EXPECT_EQ(overlap.earlier, utc(2026, 4, 4, 14, 45));
  EXPECT_EQ(overlap.later, utc(2026, 4, 4, 15, 15));
}

TEST(TimeZoneTest, FromLocalUniqueTime) {
  TimeZone berlin = load("Europe/Berlin");
  auto r = berlin.from_local(civil(2026, 7, 1, 12, 0, 0, 0));
  EXPECT_EQ(r.kind, LocalTimeKind::kUnique);
  EXPECT_EQ(r.earlier, utc(2026, 7, 1, 10, 0));
  EXPECT_EQ(r.later, r.earlier);
}

TEST(TimeZoneTest, FromLocalInTheSpringForwardGap) {
  TimeZone berlin = load("Europe/Berlin");
  auto r = berlin.from_local(civil(2026, 3, 29, 2, 30, 0, 0));
  EXPECT_EQ(r.kind, LocalTimeKind::kSkipped);
  EXPECT_EQ(r.earlier, utc(2026, 3, 29, 0, 30));    // read as CEST: 01:30 CET
  EXPECT_EQ(r.later, utc(2026, 3, 29, 1, 30));      // read as CET: 03:30 CEST
  EXPECT_EQ(r.transition, utc(2026, 3, 29, 1, 0));  // 03:00 CEST
  // 02:00 itself is skipped too; 03:00 is the first wall time that exists.
  EXPECT_EQ(berlin.from_local(civil(2026, 3, 29, 2, 0, 0, 0)).kind, LocalTimeKind::kSkipped);
  EXPECT_EQ(berlin.from_local(civil(2026, 3, 29, 3, 0, 0, 0)).kind, LocalTimeKind::kUnique);

  TimeZone new_york = load("America/New_York");
  auto ny = new_york.from_local(civil(2026, 3, 8, 2, 30, 0, 0));
  EXPECT_EQ(ny.kind, LocalTimeKind::kSkipped);
  EXPECT_EQ(ny.transition, utc(2026, 3, 8, 7, 0));
}

TEST(TimeZoneTest, FromLocalInTheFallBackOverlap) {
  TimeZone berlin = load("Europe/Berlin");
  auto r = berlin.from_local(civil(2026, 10, 25, 2, 30, 0, 0));
  EXPECT_EQ(r.kind, LocalTimeKind::kRepeated);
  EXPECT_EQ(r.earlier, utc(2026, 10, 25, 0, 30));  // 02:30 CEST
  EXPECT_EQ(r.later, utc(2026, 10, 25, 1, 30));    // 02:30 CET
  EXPECT_EQ(r.transition, utc(2026, 10, 25, 1, 0));
  EXPECT_EQ(berlin.from_local(civil(2026, 10, 25, 3, 0, 0, 0)).kind, LocalTimeKind::kUnique);

  TimeZone new_york = load("America/New_York");
  auto ny = new_york.from_local(civil(2026, 11, 1, 1, 30, 0, 0));
  EXPECT_EQ(ny.kind, LocalTimeKind::kRepeated);
  EXPECT_EQ(ny.earlier, utc(2026, 11, 1, 5, 30));  // 01:30 EDT
  EXPECT_EQ(ny.later, utc(2026, 11, 1, 6, 30));    // 01:30 EST
}

TEST(TimeZoneTest, RoundTripsEveryQuarterHourOfAYear) {
  TimeZone berlin = load("Europe/Berlin");
  for (TimeMs t = utc(2026, 1, 1, 0, 0); t < utc(2027, 1, 1, 0, 0); t += 15 * 60 * 1000) {
    auto r = berlin.from_local(berlin.to_local(t));
    ASSERT_NE(r.kind, LocalTimeKind::kSkipped) << t;
    ASSERT_TRUE(r.earlier == t || r.later == t) << t;
  }
}

TEST(TimeZoneTest, ConcurrentLoadsAgree) {
  std::vector<std::thread> threads;
  std::vector<int> offsets(8);
  for (size_t i = 0; i < offsets.size(); ++i) {
    threads.emplace_back([&offsets, i] {
      auto zone = TimeZone::load(i % 2 ? "Asia/Tokyo" : "Europe/Paris");
      offsets[i] = zone.ok() ? zone->offset_at(utc(2026, 1, 1, 0, 0)) : -1;
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], i % 2 ? 9 * 3600 : 3600);
}

}  // namespace
}  // namespace corral

// IANA time zones from the system's tz database (/usr/share/zoneinfo) through Howard Hinnant's
// date/tz.h (Debian libhowardhinnant-date-dev, the std::chrono tz API before g++ 14), without
// touching the process-wide TZ or localtime_r, so any thread may convert at any time.
//
// date 3.0.1 reads each zone's TZif transitions but not the file's footer POSIX TZ string, e.g.
// "CET-1CEST,M3.5.0,M10.5.0/3", which gives the rule for every instant after the last listed
// transition (HowardHinnant/date#760); TimeZone applies the footer itself (posix_tz.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace corral {

// A wall-clock reading in some zone. weekday is 0 = Sunday .. 6 = Saturday; it is filled in by
// TimeZone::to_local and ignored on input.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;

  bool operator==(const CivilTime&) const = default;
};

// What a wall-clock reading means in a zone, around daylight-saving changes:
//
//   kUnique    the reading happens exactly once.
//   kSkipped   the reading never happens: the clocks jumped over it (spring forward,
//              e.g. Berlin 2026-03-29 02:30, when 02:00 CET became 03:00 CEST).
//   kRepeated  the reading happens twice: the clocks went back over it (fall back,
//              e.g. Berlin 2026-10-25 02:30, first in CEST, then again in CET).
enum class LocalTimeKind { kUnique, kSkipped, kRepeated };

struct LocalResolution {
  LocalTimeKind kind = LocalTimeKind::kUnique;
  // kUnique:   earlier == later == the instant.
  // kRepeated: earlier = the first occurrence (old offset), later = the second (new offset).
  // kSkipped:  earlier = the reading taken with the new offset (an instant before the jump),
  //            later = the reading taken with the old offset (after the jump); 02:30 in Berlin
  //            gives 01:30 CET and 03:30 CEST.
  TimeMs earlier = 0;
  TimeMs later = 0;
  // kSkipped and kRepeated: the instant the clocks changed. For kSkipped it is the first instant
  // that exists after the gap (03:00 CEST above). 0 for kUnique.
  TimeMs transition = 0;
};

class TimeZone {
 public:
  // Loads "Europe/Berlin", "UTC", "Etc/UTC", ... from the system tz database. Loaded zones are
  // cached for the life of the process (thread-safe), so loading is cheap after the first time.
  // Unknown or malformed names (".." components, a leading '/') fail with kInvalidSpec.
  static Result<TimeZone> load(std::string_view name);
  // UTC, without touching the file system.
  static TimeZone utc();

  const std::string& name() const;

  // Offset from UTC in seconds east (Berlin in summer: 7200; New York in winter: -18000).
  int offset_at(TimeMs utc) const;
  // The wall-clock reading at `utc` (sub-second part dropped).
  CivilTime to_local(TimeMs utc) const;
  // The instant(s) a wall-clock reading denotes; see LocalResolution. `local.weekday` is ignored;
  // fields must be in range (month 1-12, day valid for the month, hour 0-23, ...).
  LocalResolution from_local(const CivilTime& local) const;

 private:
  struct Data;  // the zone, immutable and shared between copies and the cache
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}
  std::shared_ptr<const Data> data_;
};

// Days since 1970-01-01 of a civil date, and back (proleptic Gregorian; std::chrono calendar).
int64_t days_from_civil(int year, int month, int day);
CivilTime civil_from_seconds(int64_t seconds_since_epoch);

}  // namespace corral

#include "common/timezone.h"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "common/posix_tz.h"

namespace corral {

namespace {

constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";
constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kBeginningOfTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kEndOfTime = std::numeric_limits<int64_t>::max();

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// A stretch of time with one UTC offset: [begin_s, end_s) in UTC seconds.
struct OffsetPeriod {
  int64_t begin_s = kBeginningOfTime;
  int64_t end_s = kEndOfTime;
  int32_t offset_s = 0;
};

// The period of a footer rule around `utc_s`, starting no earlier than `not_before_s`.
OffsetPeriod footer_period(const PosixTz& rule, int64_t utc_s, int64_t not_before_s) {
  OffsetPeriod period{not_before_s, kEndOfTime, rule.offset_at(utc_s)};
  int year = civil_from_seconds(utc_s).year;
  for (const auto& change : rule.changes_in_years(year - 1, year + 1)) {
    if (change.at_s <= utc_s) {
      period.begin_s = std::max(not_before_s, change.at_s);
    } else {
      period.end_s = change.at_s;
      break;
    }
  }
  return period;
}

int64_t seconds_of(date::sys_seconds t) {
  return t.time_since_epoch().count();
}

// The POSIX TZ string of a TZif v2+ file: its last line, between the last two newlines.
// Empty when the file has none (version 1) or it is empty ("no rule": the last offset stays).
std::string tzif_footer(const std::string& zone_name) {
  std::ifstream in(std::string(kZoneInfoDir) + "/" + zone_name, std::ios::binary);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.size() < 6 || bytes.compare(0, 4, "TZif") != 0 || bytes[4] < '2' ||
      bytes.back() != '\n') {
    return {};
  }
  size_t start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string::npos) return {};
  return bytes.substr(start + 1, bytes.size() - start - 2);
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view part = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '+' || c == '.';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

}  // namespace

int64_t days_from_civil(int year, int month, int day) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / static_cast<unsigned>(month) /
                  static_cast<unsigned>(day)}
      .time_since_epoch()
      .count();
}

CivilTime civil_from_seconds(int64_t seconds_since_epoch) {
  using namespace std::chrono;
  int64_t days = floor_div(seconds_since_epoch, kSecondsPerDay);
  int64_t second_of_day = seconds_since_epoch - days * kSecondsPerDay;
  sys_days date{std::chrono::days{days}};
  year_month_day ymd{date};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(second_of_day / 3600);
  c.minute = static_cast<int>(second_of_day / 60 % 60);
  c.second = static_cast<int>(second_of_day % 60);
  c.weekday = static_cast<int>(weekday{date}.c_encoding());
  return c;
}

struct TimeZone::Data {
  std::string name;
  const date::time_zone* zone = nullptr;  // nullptr: UTC
  // The footer rule answers from the zone's last listed transition on (table_end_s).
  std::optional<PosixTz> footer;
  int64_t table_end_s = kEndOfTime;

  OffsetPeriod period_at(int64_t utc_s) const {
    if (footer && utc_s >= table_end_s) return footer_period(*footer, utc_s, table_end_s);
    if (zone == nullptr) return {};
    date::sys_info info = zone->get_info(date::sys_seconds{std::chrono::seconds{utc_s}});
    int64_t end_s = seconds_of(info.end);
    if (footer) end_s = std::min(end_s, table_end_s);
    return {seconds_of(info.begin), end_s, static_cast<int32_t>(info.offset.count())};
  }
};

TimeZone TimeZone::utc() {
  static const std::shared_ptr<const Data> utc_data = [] {
    auto data = std::make_shared<Data>();
    data->name = "UTC";
    return data;
  }();
  return TimeZone(utc_data);
}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (!valid_zone_name(name)) {
    return make_error(ErrorCode::kInvalidSpec,
                      "invalid time zone name '" + std::string(name) +
                          "': use an IANA name such as Europe/Berlin, America/New_York or UTC");
  }
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Data>, std::less<>> cache;
  {
    std::lock_guard lock(mutex);
    auto it = cache.find(name);
    if (it != cache.end()) return TimeZone(it->second);
  }
  auto data = std::make_shared<Data>();
  data->name = std::string(name);
  try {
    data->zone = date::locate_zone(name);
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidSpec,
                      "unknown time zone '" + std::string(name) +
                          "': use an IANA name such as Europe/Berlin, America/New_York or UTC "
                          "(see /usr/share/zoneinfo)");
  }
  try {
    // Reads the zone's file now, so a damaged one fails here and not in a later conversion.
    date::sys_info last = data->zone->get_info(date::sys_days{date::year{9999} / 1 / 1});
    data->table_end_s = seconds_of(last.begin);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidSpec, "time zone '" + std::string(name) +
                                                   "': cannot read it from " + kZoneInfoDir + ": " +
                                                   e.what());
  }
  // date 3.0.1 ends the zone at its last listed transition (HowardHinnant/date#760); the
  // file's footer rule continues it: every year after 2037 in fat TZif files, and every year
  // after the last rule change in slim ones.
  std::string footer = tzif_footer(data->name);
  if (!footer.empty()) {
    auto rule = parse_posix_tz(footer);
    if (!rule) {
      return make_error(ErrorCode::kInvalidSpec,
                        "time zone '" + std::string(name) + "': " + rule.error().message);
    }
    data->footer = *rule;
  }
  std::lock_guard lock(mutex);
  auto [it, inserted] = cache.emplace(std::string(name), std::move(data));
  return TimeZone(it->second);
}

const std::string& TimeZone::name() const {
  return data_->name;
}

int TimeZone::offset_at(TimeMs utc) const {
  return data_->period_at(floor_div(utc, 1000)).offset_s;
}

CivilTime TimeZone::to_local(TimeMs utc) const {
  int64_t seconds = floor_div(utc, 1000);
  return civil_from_seconds(seconds + data_->period_at(seconds).offset_s);
}

LocalResolution TimeZone::from_local(const CivilTime& local) const {
  int64_t wall_s = days_from_civil(local.year, local.month, local.day) * kSecondsPerDay +
                   local.hour * 3600 + local.minute * 60 + local.second;
  // Every offset is within ±26h, so the instants this reading could mean lie in this window.
  constexpr int64_t kWindow = 30 * 3600;
  std::vector<OffsetPeriod> periods{data_->period_at(wall_s - kWindow)};
  while (periods.back().end_s <= wall_s + kWindow && periods.size() < 64) {
    periods.push_back(data_->period_at(periods.back().end_s));
  }
  // The periods in which the reading, taken with the period's offset, falls.
  std::vector<size_t> matches;
  for (size_t i = 0; i < periods.size(); ++i) {
    int64_t t = wall_s - periods[i].offset_s;
    if (periods[i].begin_s <= t && t < periods[i].end_s) matches.push_back(i);
  }

  LocalResolution out;
  if (matches.size() == 1) {
    out.earlier = out.later = (wall_s - periods[matches.front()].offset_s) * 1000;
    return out;
  }
  if (matches.size() >= 2) {
    const OffsetPeriod& first = periods[matches.front()];
    out.kind = LocalTimeKind::kRepeated;
    out.earlier = (wall_s - first.offset_s) * 1000;
    out.later = (wall_s - periods[matches.back()].offset_s) * 1000;
    for (size_t i = matches.front() + 1; i < periods.size(); ++i) {
      if (periods[i].offset_s != first.offset_s) {
        out.transition = periods[i].begin_s * 1000;
        break;
      }
    }
    return out;
  }
  for (size_t i = 0; i + 1 < periods.size(); ++i) {
    const OffsetPeriod& before = periods[i];
    const OffsetPeriod& after = periods[i + 1];
    if (after.begin_s + before.offset_s <= wall_s && wall_s < after.begin_s + after.offset_s) {
      out.kind = LocalTimeKind::kSkipped;
      out.earlier = (wall_s - after.offset_s) * 1000;
      out.later = (wall_s - before.offset_s) * 1000;
      out.transition = after.begin_s * 1000;
      return out;
    }
  }
  // Unreachable with consistent data; read the wall time with the offset just before it.
  out.earlier = out.later = (wall_s - periods.front().offset_s) * 1000;
  return out;
}

}  // namespace corral

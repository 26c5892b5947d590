#include "common/posix_tz.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/timezone.h"

namespace corral {
namespace {

bool is_leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool done() const { return pos_ >= text_.size(); }
  bool eat(char c) {
    if (done() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  char peek() const { return done() ? '\0' : text_[pos_]; }

  // "CET" or "<+0545>".
  bool name() {
    if (eat('<')) {
      size_t close = text_.find('>', pos_);
      if (close == std::string_view::npos || close == pos_) return false;
      pos_ = close + 1;
      return true;
    }
    size_t start = pos_;
    while (!done() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    return pos_ - start >= 3;
  }

  bool number(int max, int* out) {
    size_t start = pos_;
    int value = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      value = value * 10 + (text_[pos_] - '0');
      if (value > max) return false;
      ++pos_;
    }
    *out = value;
    return pos_ > start;
  }

  // [+-]hh[:mm[:ss]], hours up to 167 (TZif v3 extension).
  bool hms(int32_t* seconds) {
    int sign = 1;
    if (eat('-'))
      sign = -1;
    else
      eat('+');
    int h = 0, m = 0, s = 0;
    if (!number(167, &h)) return false;
    if (eat(':')) {
      if (!number(59, &m)) return false;
      if (eat(':') && !number(59, &s)) return false;
    }
    *seconds = sign * (h * 3600 + m * 60 + s);
    return true;
  }

  bool date(PosixTzDate* d) {
    if (eat('M')) {
      d->kind = PosixTzDate::Kind::kMonthWeekDay;
      if (!number(12, &d->month) || d->month < 1 || !eat('.')) return false;
      if (!number(5, &d->week) || d->week < 1 || !eat('.')) return false;
      if (!number(6, &d->weekday)) return false;
    } else if (eat('J')) {
      d->kind = PosixTzDate::Kind::kJulian;
      if (!number(365, &d->day) || d->day < 1) return false;
    } else {
      d->kind = PosixTzDate::Kind::kDayOfYear;
      if (!number(365, &d->day)) return false;
    }
    d->time_s = 2 * 3600;
    if (eat('/')) return hms(&d->time_s);
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

int64_t PosixTzDate::day_in_year(int year) const {
  switch (kind) {
    case Kind::kJulian:
      return days_from_civil(year, 1, 1) + day - 1 + (is_leap(year) && day >= 60 ? 1 : 0);
    case Kind::kDayOfYear:
      return days_from_civil(year, 1, 1) + day;
    case Kind::kMonthWeekDay:
      break;
  }
  int64_t first = days_from_civil(year, month, 1);
  int first_weekday = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  int64_t day = first + (weekday - first_weekday + 7) % 7 + (week - 1) * 7;
  int64_t next_month =
      month == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, month + 1, 1);
  while (day >= next_month) day -= 7;  // week 5 = the last such weekday
  return day;
}

std::vector<PosixTz::Change> PosixTz::changes_in_years(int first_year, int last_year) const {
  std::vector<Change> changes;
  if (!has_dst) return changes;
  for (int year = first_year; year <= last_year; ++year) {
    // Each rule's time is read on the clock in force just before the change.
    changes.push_back({dst_start.day_in_year(year) * 86400 + dst_start.time_s - std_offset_s,
                       std_offset_s, dst_offset_s});
    changes.push_back({dst_end.day_in_year(year) * 86400 + dst_end.time_s - dst_offset_s,
                       dst_offset_s, std_offset_s});
  }
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.at_s < b.at_s; });
  return changes;
}

int32_t PosixTz::offset_at(int64_t utc_s) const {
  if (!has_dst) return std_offset_s;
  int year = civil_from_seconds(utc_s + std_offset_s).year;
  auto changes = changes_in_years(year - 1, year + 1);
  int32_t offset = changes.front().offset_before_s;
  for (const auto& change : changes) {
    if (change.at_s > utc_s) break;
    offset = change.offset_after_s;
  }
  return offset;
}

Result<PosixTz> parse_posix_tz(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidSpec, "bad POSIX TZ rule '" + std::string(text) +
                                                   "' (expected e.g. CET-1CEST,M3.5.0,M10.5.0/3)");
  };
  Parser p(text);
  PosixTz tz;
  int32_t west = 0;
  if (!p.name() || !p.hms(&west)) return bad();
  tz.std_offset_s = -west;
  if (p.done()) return tz;
  if (!p.name()) return bad();
  tz.has_dst = true;
  tz.dst_offset_s = tz.std_offset_s + 3600;
  if (!p.done() && p.peek() != ',') {
    if (!p.hms(&west)) return bad();
    tz.dst_offset_s = -west;
  }
  if (p.done()) {
    // No rule given: POSIX leaves it to the implementation; use the US one, as glibc does.
    tz.dst_start = {PosixTzDate::Kind::kMonthWeekDay, 3, 2, 0, 0, 2 * 3600};
    tz.dst_end = {PosixTzDate::Kind::kMonthWeekDay, 11, 1, 0, 0, 2 * 3600};
    return tz;
  }
  if (!p.eat(',') || !p.date(&tz.dst_start) || !p.eat(',') || !p.date(&tz.dst_end) || !p.done()) {
    return bad();
  }
  return tz;
}

}  // namespace corral

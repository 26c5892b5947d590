#include "common/cron.h"

#include <array>
#include <cctype>
#include <vector>

namespace corral {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* allowed;                 // for messages
  const char* const* names = nullptr;  // three-letter names of min, min+1, ...
  int name_count = 0;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, "0-59"},
    {"hour", 0, 23, "0-23"},
    {"day-of-month", 1, 31, "1-31"},
    {"month", 1, 12, "1-12 or jan-dec", kMonthNames, 12},
    {"day-of-week", 0, 7, "0-7 or sun-sat (0 and 7 are Sunday)", kWeekdayNames, 7},
}};

struct Macro {
  const char* name;
  const char* expansion;
};
constexpr Macro kMacros[] = {
    {"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},   {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

struct ParsedField {
  uint64_t bits = 0;
  bool restricted = true;  // false when the field starts with '*' (Vixie's DOM_STAR/DOW_STAR)
  std::string normalized;
};

class FieldParser {
 public:
  FieldParser(int index, const FieldSpec& spec, std::string_view text)
      : index_(index), spec_(spec), text_(text) {}

  Result<ParsedField> parse() {
    ParsedField out;
    out.restricted = text_.empty() || text_.front() != '*';
    for (std::string_view element : split(text_, ',')) {
      if (element.empty()) return error(text_, "empty list element; write e.g. 1,15");
      auto range = parse_element(element, &out.bits);
      if (!range) return range.error();
      if (!out.normalized.empty()) out.normalized += ',';
      out.normalized += *range;
    }
    return out;
  }

 private:
  Error error(std::string_view what, const std::string& why) const {
    return make_error(ErrorCode::kInvalidSpec, "cron field " + std::to_string(index_ + 1) + " (" +
                                                   spec_.name + ") '" + std::string(what) +
                                                   "': " + why);
  }

  // A number or name; messages quote the token, or the whole element when the token is empty
  // ("-1").
  Result<int> value(std::string_view token, std::string_view element) const {
    if (token.empty()) token = element;
    std::string word = lower(token);
    for (int i = 0; i < spec_.name_count; ++i) {
      if (word == spec_.names[i]) return spec_.min + i;
    }
    if (word.empty() || word.size() > 2)
      return error(token, "must be " + std::string(spec_.allowed));
    int n = 0;
    for (char c : word) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return error(token, "must be " + std::string(spec_.allowed));
      }
      n = n * 10 + (c - '0');
    }
    if (n < spec_.min || n > spec_.max)
      return error(token, "must be " + std::string(spec_.allowed));
    return n;
  }

  // Adds the element's values to *bits and returns its normalized text.
  Result<std::string> parse_element(std::string_view element, uint64_t* bits) const {
    std::string_view base = element;
    int step = 1;
    bool has_step = false;
    if (size_t slash = element.find('/'); slash != std::string_view::npos) {
      base = element.substr(0, slash);
      std::string_view step_text = element.substr(slash + 1);
      int limit = spec_.max - spec_.min + (spec_.min == 0 ? 0 : 1);
      // At most two digits: a longer step is refused before it could overflow (found by
      // tests/fuzz/cron_tz_fuzz.cpp).
      bool digits = !step_text.empty() && step_text.size() <= 2;
      step = 0;
      for (char c : step_text) {
        if (!digits) break;
        if (!std::isdigit(static_cast<unsigned char>(c)))
          digits = false;
        else
          step = step * 10 + (c - '0');
      }
      if (!digits || step < 1 || step > limit) {
        return error(element, "step must be 1-" + std::to_string(limit));
      }
      has_step = true;
    }
    int lo = spec_.min;
    int hi = spec_.max;
    std::string normalized;
    if (base == "*") {
      if (spec_.names == kWeekdayNames) hi = 6;  // 7 is Sunday again
      normalized = "*";
    } else {
      size_t dash = base.find('-');
      auto first = value(base.substr(0, dash), element);
      if (!first) return first.error();
      lo = hi = *first;
      if (dash != std::string_view::npos) {
        auto last = value(base.substr(dash + 1), element);
        if (!last) return last.error();
        hi = *last;
        if (lo > hi) {
          return error(element, "range start is after its end; write the smaller value first");
        }
      } else if (has_step) {
        return error(element, "a step needs a range: write '*/s' or 'a-b/s'");
      }
      if (spec_.names == kWeekdayNames && lo == 7) lo = hi = 0;  // single "7" is Sunday
      normalized = std::to_string(lo);
      if (hi != lo) normalized += "-" + std::to_string(hi);
    }
    if (has_step) normalized += "/" + std::to_string(step);
    for (int v = lo; v <= hi; v += step) {
      int bit = (spec_.names == kWeekdayNames && v == 7) ? 0 : v;
      *bits |= uint64_t{1} << bit;
    }
    return normalized;
  }

  int index_;
  const FieldSpec& spec_;
  std::string_view text_;
};

bool has_bit(uint64_t bits, int n) {
  return ((bits >> n) & 1) != 0;
}

}  // namespace

Result<CronExpr> CronExpr::parse(std::string_view text) {
  std::vector<std::string_view> fields;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() == 1 && fields[0].front() == '@') {
    std::string macro = lower(fields[0]);
    for (const auto& m : kMacros) {
      if (macro == m.name) return parse(m.expansion);
    }
    return make_error(ErrorCode::kInvalidSpec,
                      "cron macro '" + std::string(fields[0]) +
                          "' is not supported: use @hourly, @daily, @midnight, @weekly, "
                          "@monthly, @yearly or @annually, or 5 fields");
  }
  if (fields.size() != 5) {
    return make_error(ErrorCode::kInvalidSpec,
                      "cron expression '" + std::string(text) + "' has " +
                          std::to_string(fields.size()) +
                          " fields; expected 5 (minute hour day-of-month month day-of-week, "
                          "e.g. '0 2 * * *') or a macro such as @daily");
  }
  CronExpr expr;
  std::array<ParsedField, 5> parsed;
  for (size_t i = 0; i < 5; ++i) {
    auto field = FieldParser(static_cast<int>(i), kFields[i], fields[i]).parse();
    if (!field) return field.error();
    parsed[i] = std::move(*field);
    if (i > 0) expr.normalized_ += ' ';
    expr.normalized_ += parsed[i].normalized;
  }
  expr.minutes_ = parsed[0].bits;
  expr.hours_ = static_cast<uint32_t>(parsed[1].bits);
  expr.days_of_month_ = static_cast<uint32_t>(parsed[2].bits);
  expr.months_ = static_cast<uint32_t>(parsed[3].bits);
  expr.days_of_week_ = static_cast<uint32_t>(parsed[4].bits);
  expr.every_hour_ = parsed[1].normalized == "*";
  expr.day_of_month_restricted_ = parsed[2].restricted;
  expr.day_of_week_restricted_ = parsed[4].restricted;
  return expr;
}

bool CronExpr::day_matches(int day_of_month, int day_of_week) const {
  bool dom = has_bit(days_of_month_, day_of_month);
  bool dow = has_bit(days_of_week_, day_of_week);
  if (day_of_month_restricted_ && day_of_week_restricted_) return dom || dow;
  return dom && dow;
}

bool CronExpr::matches(const CivilTime& local) const {
  return has_bit(minutes_, local.minute) && has_bit(hours_, local.hour) &&
         has_bit(months_, local.month) && day_matches(local.day, local.weekday);
}

std::optional<TimeMs> CronExpr::next_after(TimeMs after_utc, const TimeZone& tz) const {
  // Walk wall-clock candidates (day by day, skipping months and days that cannot match) from a
  // little before the wall time of `after_utc`, map each to instants, keep the earliest one
  // after `after_utc`. No DST shift exceeds kMaxShiftS, so wall times beyond the best
  // candidate's + kMaxShiftS cannot map to an earlier instant.
  constexpr int64_t kMaxShiftS = 3 * 3600;
  constexpr int64_t kSearchDays = 8 * 366;
  int64_t after_s = after_utc >= 0 ? after_utc / 1000 : -((-after_utc + 999) / 1000);
  int64_t start_wall = after_s + tz.offset_at(after_utc) - kMaxShiftS;
  int64_t start_day = start_wall >= 0 ? start_wall / 86400 : -((-start_wall + 86399) / 86400);

  std::optional<TimeMs> best;
  int64_t best_wall = 0;
  auto consider = [&](TimeMs instant, int64_t wall) {
    if (instant > after_utc && (!best || instant < *best)) {
      best = instant;
      best_wall = wall;
    }
  };
  for (int64_t day = start_day; day < start_day + kSearchDays; ++day) {
    CivilTime date = civil_from_seconds(day * 86400);
    if (!has_bit(months_, date.month)) {
      // Jump to the last day of this month; the loop's ++day moves to the 1st of the next.
      int next_year = date.month == 12 ? date.year + 1 : date.year;
      int next_month = date.month == 12 ? 1 : date.month + 1;
      day = days_from_civil(next_year, next_month, 1) - 1;
      continue;
    }
    if (!day_matches(date.day, date.weekday)) continue;
    for (int hour = 0; hour < 24; ++hour) {
      if (!has_bit(hours_, hour)) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!has_bit(minutes_, minute)) continue;
        int64_t wall = day * 86400 + hour * 3600 + minute * 60;
        if (wall < start_wall) continue;
        if (best && wall > best_wall + kMaxShiftS) return best;
        CivilTime local = date;
        local.hour = hour;
        local.minute = minute;
        LocalResolution r = tz.from_local(local);
        switch (r.kind) {
          case LocalTimeKind::kUnique:
            consider(r.earlier, wall);
            break;
          case LocalTimeKind::kRepeated:
            consider(r.earlier, wall);
            if (every_hour_) consider(r.later, wall);
            break;
          case LocalTimeKind::kSkipped:
            if (!every_hour_) consider(r.transition, wall);
            break;
        }
        // Fixed-time candidates map to instants in wall-clock order (first occurrences, gap
        // ends), so the first one found is the answer.
        if (best && !every_hour_) return best;
      }
    }
  }
  return best;
}

}  // namespace corral

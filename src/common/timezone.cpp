#include "common/timezone.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "common/posix_tz.h"

namespace corral {

namespace {

constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";
constexpr int64_t kSecondsPerDay = 86400;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
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
  std::vector<int64_t> transition_at_s;  // UTC seconds, ascending
  std::vector<int32_t> offset_after_s;   // offset in force from transition_at_s[i] on
  int32_t offset_before_first_s = 0;     // TZif local time type 0
  std::optional<PosixTz> footer;         // rule for instants after the last transition

  int32_t offset_at(int64_t utc_s) const {
    if (footer && (transition_at_s.empty() || utc_s >= transition_at_s.back())) {
      return footer->offset_at(utc_s);
    }
    auto it = std::upper_bound(transition_at_s.begin(), transition_at_s.end(), utc_s);
    if (it == transition_at_s.begin()) return offset_before_first_s;
    return offset_after_s[static_cast<size_t>(it - transition_at_s.begin()) - 1];
  }

  // Changes of offset at instants in (lo_s, hi_s], in time order.
  std::vector<PosixTz::Change> changes_between(int64_t lo_s, int64_t hi_s) const {
    std::vector<PosixTz::Change> changes;
    auto first = std::upper_bound(transition_at_s.begin(), transition_at_s.end(), lo_s);
    auto last = std::upper_bound(transition_at_s.begin(), transition_at_s.end(), hi_s);
    for (auto it = first; it != last; ++it) {
      size_t i = static_cast<size_t>(it - transition_at_s.begin());
      int32_t before = i == 0 ? offset_before_first_s : offset_after_s[i - 1];
      if (before != offset_after_s[i]) changes.push_back({*it, before, offset_after_s[i]});
    }
    if (footer && footer->has_dst) {
      int64_t table_end =
          transition_at_s.empty() ? std::numeric_limits<int64_t>::min() : transition_at_s.back();
      if (hi_s > table_end) {
        int from_year = civil_from_seconds(std::max(lo_s, table_end)).year - 1;
        int to_year = civil_from_seconds(hi_s).year + 1;
        for (const auto& change : footer->changes_in_years(from_year, to_year)) {
          if (change.at_s > lo_s && change.at_s <= hi_s && change.at_s > table_end) {
            changes.push_back(change);
          }
        }
      }
    }
    return changes;
  }
};

namespace {

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  bool has(size_t n) const { return pos_ + n <= bytes_.size(); }
  size_t pos() const { return pos_; }
  void skip(size_t n) { pos_ += n; }
  std::string_view view(size_t n) const { return bytes_.substr(pos_, n); }
  int64_t be(size_t n) {  // big-endian signed integer of n bytes
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    pos_ += n;
    if (n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(v);
  }
  std::string_view rest() const { return bytes_.substr(pos_); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

struct TzifCounts {
  int64_t isut, isstd, leap, time, type, chars;
};

bool read_header(ByteReader& r, char* version, TzifCounts* c) {
  if (!r.has(44) || r.view(4) != "TZif") return false;
  r.skip(4);
  *version = r.view(1)[0];
  r.skip(16);
  c->isut = r.be(4);
  c->isstd = r.be(4);
  c->leap = r.be(4);
  c->time = r.be(4);
  c->type = r.be(4);
  c->chars = r.be(4);
  return c->isut >= 0 && c->isstd >= 0 && c->leap >= 0 && c->time >= 0 && c->type >= 1 &&
         c->type <= 256 && c->chars >= 0 && c->time < 1'000'000;
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

Result<TimeZone> TimeZone::from_tzif(std::string_view name, std::string_view tzif_bytes) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidSpec, "time zone '" + std::string(name) + "': " + why);
  };
  ByteReader r(tzif_bytes);
  char version = 0;
  TzifCounts c{};
  if (!read_header(r, &version, &c)) return bad("not a TZif file");
  if (version < '2') return bad("TZif version 1 files are not supported; need version 2 or later");
  // Skip the 32-bit (version 1) data block; the 64-bit block after it is complete.
  size_t v1_size =
      static_cast<size_t>(c.time * 5 + c.type * 6 + c.chars + c.leap * 8 + c.isstd + c.isut);
  if (!r.has(v1_size)) return bad("truncated TZif file");
  r.skip(v1_size);
  if (!read_header(r, &version, &c)) return bad("missing the 64-bit TZif section");
  if (c.leap > 0) return bad("zones with leap seconds (right/...) are not supported");
  size_t v2_size =
      static_cast<size_t>(c.time * 9 + c.type * 6 + c.chars + c.leap * 12 + c.isstd + c.isut);
  if (!r.has(v2_size)) return bad("truncated TZif file");

  auto data = std::make_shared<Data>();
  data->name = std::string(name);
  data->transition_at_s.reserve(static_cast<size_t>(c.time));
  for (int64_t i = 0; i < c.time; ++i) data->transition_at_s.push_back(r.be(8));
  if (!std::is_sorted(data->transition_at_s.begin(), data->transition_at_s.end())) {
    return bad("transitions are not in time order");
  }
  std::vector<int64_t> type_of_transition;
  for (int64_t i = 0; i < c.time; ++i) type_of_transition.push_back(r.be(1) & 0xff);
  std::vector<int32_t> type_offsets;
  for (int64_t i = 0; i < c.type; ++i) {
    int64_t utoff = r.be(4);
    r.skip(2);  // isdst, abbreviation index
    if (utoff < -25 * 3600 || utoff > 26 * 3600) return bad("UTC offset out of range");
    type_offsets.push_back(static_cast<int32_t>(utoff));
  }
  for (int64_t type : type_of_transition) {
    if (type >= c.type) return bad("transition refers to an unknown local time type");
    data->offset_after_s.push_back(type_offsets[static_cast<size_t>(type)]);
  }
  data->offset_before_first_s = type_offsets[0];
  r.skip(static_cast<size_t>(c.chars + c.leap * 12 + c.isstd + c.isut));

  // Footer: "\n<POSIX TZ>\n"; empty means "no rule", use the last transition's offset.
  std::string_view footer = r.rest();
  if (footer.size() < 2 || footer.front() != '\n') return bad("missing the TZif footer");
  size_t end = footer.find('\n', 1);
  if (end == std::string_view::npos) return bad("unterminated TZif footer");
  std::string_view rule = footer.substr(1, end - 1);
  if (!rule.empty()) {
    auto posix = parse_posix_tz(rule);
    if (!posix) return bad(posix.error().message);
    data->footer = *posix;
  }
  return TimeZone(std::move(data));
}

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
  std::filesystem::path path = std::filesystem::path(kZoneInfoDir) / std::string(name);
  std::error_code ec;
  std::string bytes;
  if (std::filesystem::is_regular_file(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    bytes = buffer.str();
  }
  if (bytes.size() < 4 || bytes.compare(0, 4, "TZif") != 0) {
    return make_error(ErrorCode::kInvalidSpec,
                      "unknown time zone '" + std::string(name) +
                          "': use an IANA name such as Europe/Berlin, America/New_York or UTC "
                          "(see /usr/share/zoneinfo)");
  }
  auto zone = from_tzif(name, bytes);
  if (!zone) return zone.error();
  std::lock_guard lock(mutex);
  auto [it, inserted] = cache.emplace(std::string(name), zone->data_);
  return TimeZone(it->second);
}

const std::string& TimeZone::name() const {
  return data_->name;
}

int TimeZone::offset_at(TimeMs utc) const {
  return data_->offset_at(floor_div(utc, 1000));
}

CivilTime TimeZone::to_local(TimeMs utc) const {
  int64_t seconds = floor_div(utc, 1000);
  return civil_from_seconds(seconds + data_->offset_at(seconds));
}

LocalResolution TimeZone::from_local(const CivilTime& local) const {
  int64_t wall_s = days_from_civil(local.year, local.month, local.day) * kSecondsPerDay +
                   local.hour * 3600 + local.minute * 60 + local.second;
  // Every offset is within ±26h, so the instants this reading could mean lie in this window.
  constexpr int64_t kWindow = 30 * 3600;
  auto changes = data_->changes_between(wall_s - kWindow, wall_s + kWindow);
  std::vector<int32_t> offsets{data_->offset_at(wall_s - kWindow)};
  for (const auto& change : changes) offsets.push_back(change.offset_after_s);
  std::vector<int64_t> instants;
  for (int32_t offset : offsets) {
    int64_t t = wall_s - offset;
    if (data_->offset_at(t) == offset) instants.push_back(t);
  }
  std::sort(instants.begin(), instants.end());
  instants.erase(std::unique(instants.begin(), instants.end()), instants.end());

  LocalResolution out;
  if (instants.size() == 1) {
    out.earlier = out.later = instants.front() * 1000;
    return out;
  }
  if (instants.size() >= 2) {
    out.kind = LocalTimeKind::kRepeated;
    out.earlier = instants.front() * 1000;
    out.later = instants.back() * 1000;
    for (const auto& change : changes) {
      if (change.at_s > instants.front() && change.at_s <= instants.back()) {
        out.transition = change.at_s * 1000;
        break;
      }
    }
    return out;
  }
  for (const auto& change : changes) {
    if (change.at_s + change.offset_before_s <= wall_s &&
        wall_s < change.at_s + change.offset_after_s) {
      out.kind = LocalTimeKind::kSkipped;
      out.earlier = (wall_s - change.offset_after_s) * 1000;
      out.later = (wall_s - change.offset_before_s) * 1000;
      out.transition = change.at_s * 1000;
      return out;
    }
  }
  // Unreachable with consistent data; read the wall time with the offset just before it.
  out.earlier = out.later = (wall_s - offsets.front()) * 1000;
  return out;
}

}  // namespace corral

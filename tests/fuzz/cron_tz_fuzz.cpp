// Fuzz target: cron expressions and time-zone strings as POST /api/v1/schedules takes them
// (the first line is the cron expression, the second the zone name, the third a POSIX TZ rule
// as TZif footers carry them, which TimeZone applies after a zone's last listed transition).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/cron.h"
#include "common/posix_tz.h"
#include "common/timezone.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  std::string_view cron_text = text.substr(0, nl);
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  size_t nl2 = rest.find('\n');
  std::string_view zone = rest.substr(0, nl2);
  std::string_view rule_text =
      nl2 == std::string_view::npos ? std::string_view() : rest.substr(nl2 + 1);

  auto tz = corral::TimeZone::load(zone);  // a name: never a path outside the zone database
  auto rule = corral::parse_posix_tz(rule_text);
  if (rule.ok()) {
    for (int64_t at_s : {int64_t{-2'000'000'000}, int64_t{0}, int64_t{2'300'000'000}}) {
      (void)rule->offset_at(at_s);
    }
    (void)rule->changes_in_years(2037, 2040);
  }
  auto cron = corral::CronExpr::parse(cron_text);
  if (cron.ok()) {
    (void)cron->next_after(1'800'000'000'000, corral::TimeZone::utc());
    if (tz.ok()) (void)cron->next_after(1'800'000'000'000, *tz);
  }
  return 0;
}

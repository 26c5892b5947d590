#include "common/schedule_tick.h"

#include <algorithm>

namespace corral {

std::optional<TimeMs> due_tick(const CronExpr& cron, const TimeZone& tz, TimeMs last_tick,
                               TimeMs now) {
  if (now <= last_tick) return std::nullopt;
  // Look back over growing windows so a long downtime with a dense expression ("* * * * *")
  // does not step through every missed tick; the last window reaches back to last_tick.
  constexpr TimeMs kHour = 3'600'000;
  constexpr TimeMs kWindows[] = {kHour, 24 * kHour, 32 * 24 * kHour, 1024 * 24 * kHour};
  for (size_t i = 0; i <= std::size(kWindows); ++i) {
    TimeMs start = i < std::size(kWindows) ? std::max(last_tick, now - kWindows[i]) : last_tick;
    std::optional<TimeMs> latest;
    for (auto t = cron.next_after(start, tz); t && *t <= now; t = cron.next_after(*t, tz)) {
      latest = t;
    }
    if (latest || start == last_tick) return latest;
  }
  return std::nullopt;
}

bool in_cooldown(TimeMs tick, std::optional<TimeMs> last_run_at, int64_t cooldown_s) {
  if (!last_run_at || cooldown_s <= 0) return false;
  return tick - *last_run_at < cooldown_s * 1000;
}

ScheduleDecision decide_schedule(const CronExpr& cron, const TimeZone& tz, TimeMs last_tick,
                                 std::optional<TimeMs> last_run_at, int64_t cooldown_s,
                                 TimeMs now) {
  ScheduleDecision decision;
  decision.next_tick = cron.next_after(now, tz);
  auto tick = due_tick(cron, tz, last_tick, now);
  if (!tick) return decision;
  decision.tick = *tick;
  decision.action =
      in_cooldown(*tick, last_run_at, cooldown_s) ? TickAction::kSkipCooldown : TickAction::kRun;
  return decision;
}

}  // namespace corral

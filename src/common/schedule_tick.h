// Pure decisions for the scheduled-jobs loop: which cron tick is due, and whether the cooldown
// skips it. Times in, decision out; the server keeps the state (last tick, last run) and the
// clock.
//
//   created / last tick          missed   missed    due           now
//        |------------------------x--------x---------x-------------|------> time
//                                                    ^ runs once; the two before it do not
#pragma once

#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "common/cron.h"
#include "common/timezone.h"

namespace corral {

// The latest tick in (last_tick, now], or nullopt if none. `last_tick` is the last tick the
// schedule handled (ran or skipped), or its creation time. A server that was down across
// several ticks gets only the most recent one: it runs once when it comes back, not once per
// missed tick. Store the returned tick as the new last_tick.
std::optional<TimeMs> due_tick(const CronExpr& cron, const TimeZone& tz, TimeMs last_tick,
                               TimeMs now);

// True when `tick` comes within the cooldown of the schedule's last run, i.e.
// tick - last_run_at < cooldown_s seconds, and must be skipped. No last run or a cooldown of
// 0 never skips.
bool in_cooldown(TimeMs tick, std::optional<TimeMs> last_run_at, int64_t cooldown_s);

enum class TickAction {
  kWait,          // no tick is due; wake up at next_tick
  kRun,           // make a job for `tick`; record tick as last tick and now as last run
  kSkipCooldown,  // `tick` falls within the cooldown; record it as last tick, make no job
};

struct ScheduleDecision {
  TickAction action = TickAction::kWait;
  TimeMs tick = 0;                  // the due tick (kRun, kSkipCooldown)
  std::optional<TimeMs> next_tick;  // first tick after now: for listings and the next wake-up
};

// due_tick, then in_cooldown, in one call.
ScheduleDecision decide_schedule(const CronExpr& cron, const TimeZone& tz, TimeMs last_tick,
                                 std::optional<TimeMs> last_run_at, int64_t cooldown_s, TimeMs now);

}  // namespace corral

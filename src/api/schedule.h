// Scheduled jobs: a cron expression in a time zone that makes a job at each tick
// (docs/schedules.md). The wire type, its validation and its JSON form.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/types.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/schedule_tick.h"

namespace corral {

// What a client asks for in POST /api/v1/schedules, validated and normalized.
struct ScheduleSpec {
  std::string name;  // 1..200 characters, unique per tenant
  std::string cron;  // normalized (CronExpr::to_string): names as numbers, macros expanded
  std::string timezone = "UTC";  // an IANA name TimeZone::load accepts
  int64_t cooldown_s = 0;        // 0 = no cooldown
  JobSpec job;                   // the job each tick makes
};

// Validates a POST /api/v1/schedules body. Errors are kInvalidSpec (422) and name the field:
// "field 'cron': cron field 2 (hour) '25': must be 0-23", "field 'job.command': ...".
Result<ScheduleSpec> parse_schedule_spec(const json& body);

struct Schedule {
  std::string id;
  std::string tenant;
  std::string owner_token_id;  // the token that made it; its jobs are that token's
  ScheduleSpec spec;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  // The last tick handled (ran or skipped for cooldown); the creation time until the first.
  TimeMs last_tick_at = 0;
  std::optional<TimeMs> last_run_at;  // when the last job was made
  std::string last_job_id;            // "" before the first run
  std::optional<TimeMs> next_run_at;  // the next tick; nullopt when the cron never matches again
  bool paused = false;
  // Why the system paused it ("" when a user did, or it runs): its owner's token was revoked.
  std::string paused_reason;
};
json to_json(const Schedule& schedule);

// A new schedule made at `now` from a validated spec: a fresh id, last tick = now (it does not
// run for ticks before it existed) and the first tick after now as next_run_at.
Schedule new_schedule(const std::string& tenant, const std::string& owner_token_id,
                      ScheduleSpec spec, TimeMs now);

// What a due schedule does at `now`: decide_schedule (schedule_tick.h) over its cron, zone,
// last tick, last run and cooldown. Passed into the store, which keeps no cron policy.
using ScheduleDecider = std::function<ScheduleDecision(const Schedule& schedule, TimeMs now)>;
ScheduleDecision decide_schedule(const Schedule& schedule, TimeMs now);

// The idempotency key of the job a schedule makes for one tick: two sweeps (or two servers)
// handling the same tick can never make two jobs.
std::string schedule_job_key(const std::string& schedule_id, TimeMs tick);

}  // namespace corral

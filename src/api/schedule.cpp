#include "api/schedule.h"

#include <algorithm>
#include <array>

#include "common/cron.h"
#include "common/crypto.h"
#include "common/timezone.h"

namespace corral {

Result<ScheduleSpec> parse_schedule_spec(const json& body) {
  if (!body.is_object()) {
    return invalid_field("(body)",
                         "must be a JSON object: {name, cron, timezone, cooldown_s, job}");
  }
  static constexpr std::array<std::string_view, 6> kKnown = {"name",       "cron", "timezone",
                                                             "cooldown_s", "job",  "workflows"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(kKnown.begin(), kKnown.end(), it.key()) == kKnown.end()) {
      return invalid_field(it.key(),
                           "unknown field; a schedule has name, cron, timezone, cooldown_s and job "
                           "(see docs/schedules.md)");
    }
  }
  ScheduleSpec spec;

  if (!body.contains("name") || !body["name"].is_string() ||
      body["name"].get<std::string>().empty()) {
    return invalid_field("name",
                         "required: a string of 1 to 200 characters, unique in your tenant");
  }
  spec.name = body["name"].get<std::string>();
  if (spec.name.size() > 200) return invalid_field("name", "longer than 200 characters");

  if (!body.contains("cron") || !body["cron"].is_string()) {
    return invalid_field(
        "cron", "required: a cron expression such as \"0 2 * * *\" (see docs/schedules.md)");
  }
  auto cron = CronExpr::parse(body["cron"].get<std::string>());
  if (!cron.ok()) return invalid_field("cron", cron.error().message);
  spec.cron = cron->to_string();

  if (body.contains("timezone") && !body["timezone"].is_null()) {
    if (!body["timezone"].is_string()) {
      return invalid_field("timezone",
                           "must be a string: an IANA name such as Europe/Berlin or UTC");
    }
    spec.timezone = body["timezone"].get<std::string>();
  }
  auto tz = TimeZone::load(spec.timezone);
  if (!tz.ok()) return invalid_field("timezone", tz.error().message);

  if (body.contains("cooldown_s") && !body["cooldown_s"].is_null()) {
    const auto& v = body["cooldown_s"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      return invalid_field("cooldown_s",
                           "must be a whole number of seconds, 0 or more (0 = no cooldown)");
    }
    spec.cooldown_s = v.get<int64_t>();
  }

  if (body.contains("workflows") && !body["workflows"].is_null()) {
    // Each tick starts the repository's workflows that have `on: schedule` (docs/workflows.md):
    // a job reads them at the ref on a runner, then the server starts them.
    const json& w = body["workflows"];
    if (body.contains("job"))
      return invalid_field("workflows", "give either job or workflows, not both");
    if (!w.is_object() || !w.contains("url") || !w["url"].is_string() ||
        w["url"].get<std::string>().empty() || (w.contains("ref") && !w["ref"].is_string())) {
      return invalid_field(
          "workflows",
          "must be {url, ref?}: the repository whose workflows with on: schedule each tick "
          "starts, at ref (default: its default branch)");
    }
    std::string url = w["url"], ref = w.value("ref", "");
    json repo = {{"url", url}};
    if (!ref.empty()) repo["ref"] = ref;
    auto job = parse_job_spec(
        {{"name", spec.name},
         {"repo", repo},
         {"workflow", {{"discover", {{"event", "schedule"}, {"url", url}, {"ref", ref}}}}},
         {"max_attempts", 3}});
    if (!job.ok())
      return make_error(ErrorCode::kInvalidSpec, "field 'workflows': " + job.error().message);
    spec.job = std::move(job.value());
    return spec;
  }
  if (!body.contains("job")) {
    return invalid_field(
        "job",
        "required: the job each tick makes, as for POST /api/v1/jobs (or workflows: "
        "{url, ref} to start a repository's scheduled workflows)");
  }
  if (body["job"].is_object() && body["job"].contains("workflow")) {
    return invalid_field("job.workflow", "set by the server; use workflows: {url, ref} instead");
  }
  auto job = parse_job_spec(body["job"]);
  if (!job.ok()) {
    // parse_job_spec names fields from the job's root ("field 'command': ..."); say where it is.
    std::string message = job.error().message;
    const std::string prefix = "field '";
    if (message.rfind(prefix, 0) == 0)
      message.insert(prefix.size(), "job.");
    else
      message = "field 'job': " + message;
    return make_error(ErrorCode::kInvalidSpec, message);
  }
  spec.job = std::move(job.value());
  if (spec.job.name.empty()) spec.job.name = spec.name;
  return spec;
}

json to_json(const Schedule& s) {
  return json{{"id", s.id},
              {"name", s.spec.name},
              {"tenant", s.tenant},
              {"cron", s.spec.cron},
              {"timezone", s.spec.timezone},
              {"cooldown_s", s.spec.cooldown_s},
              {"job", public_json(s.spec.job)},
              {"paused", s.paused},
              {"paused_reason", s.paused_reason.empty() ? json(nullptr) : json(s.paused_reason)},
              {"created_at", time_or_null(s.created_at)},
              {"updated_at", time_or_null(s.updated_at)},
              {"last_tick_at", time_or_null(s.last_tick_at)},
              {"last_run_at", s.last_run_at ? json(format_time(*s.last_run_at)) : json(nullptr)},
              {"last_job_id", s.last_job_id.empty() ? json(nullptr) : json(s.last_job_id)},
              {"next_run_at", s.next_run_at ? json(format_time(*s.next_run_at)) : json(nullptr)}};
}

Schedule new_schedule(const std::string& tenant, const std::string& owner_token_id,
                      ScheduleSpec spec, TimeMs now) {
  Schedule s;
  s.id = new_id("sch");
  s.tenant = tenant;
  s.owner_token_id = owner_token_id;
  s.spec = std::move(spec);
  s.created_at = now;
  s.updated_at = now;
  s.last_tick_at = now;
  auto cron = CronExpr::parse(s.spec.cron);
  auto tz = TimeZone::load(s.spec.timezone);
  if (cron.ok() && tz.ok()) s.next_run_at = cron->next_after(now, *tz);
  return s;
}

ScheduleDecision decide_schedule(const Schedule& s, TimeMs now) {
  auto cron = CronExpr::parse(s.spec.cron);
  auto tz = TimeZone::load(s.spec.timezone);
  // Both were valid when the schedule was made; a zone that has since vanished from tzdata
  // leaves the schedule waiting rather than running at a guessed time.
  if (!cron.ok() || !tz.ok()) return ScheduleDecision{TickAction::kWait, 0, std::nullopt};
  return decide_schedule(*cron, *tz, s.last_tick_at, s.last_run_at, s.spec.cooldown_s, now);
}

std::string schedule_job_key(const std::string& schedule_id, TimeMs tick) {
  return "schedule:" + schedule_id + ":" + std::to_string(tick);
}

}  // namespace corral

// `corral schedules`, `corral schedule create|show|delete|pause|resume` (docs/schedules.md).
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/job_flags.h"
#include "common/numbers.h"

namespace corral::cli {

namespace {

// Seconds from "3600", "90s", "30m", "1h", "2d"; nullopt when it is none of those.
std::optional<int64_t> parse_duration_s(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t pos = text.find_first_not_of("0123456789");
  auto n = parse_number<int64_t>(std::string_view(text).substr(0, pos));
  if (!n) return std::nullopt;
  std::string unit = pos == std::string::npos ? "" : text.substr(pos);
  if (unit.empty() || unit == "s") return *n;
  if (unit == "m") return *n * 60;
  if (unit == "h") return *n * 3600;
  if (unit == "d") return *n * 86400;
  return std::nullopt;
}

struct CreateOptions {
  ClientOptions client;
  std::string name, cron, timezone = "UTC", cooldown = "0";
  JobFlags job;  // the job, as for `corral submit`
};

void print_schedule(const json& s) {
  std::cout << "id:          " << str(s["id"]) << "\n"
            << "name:        " << str(s["name"]) << "\n"
            << "cron:        " << str(s["cron"]) << "\n"
            << "timezone:    " << str(s["timezone"]) << "\n"
            << "cooldown:    " << s["cooldown_s"].dump() << "s\n"
            << "paused:      "
            << (s["paused"].get<bool>()
                    ? (s["paused_reason"].is_string() ? "yes: " + str(s["paused_reason"]) : "yes")
                    : "no")
            << "\n"
            << "next run:    " << str(s["next_run_at"]) << "\n"
            << "last run:    " << str(s["last_run_at"]) << "\n"
            << "last job:    " << str(s["last_job_id"]) << "\n"
            << "created:     " << str(s["created_at"]) << "\n"
            << "job:         " << s["job"].dump() << "\n";
}

// show, delete, pause, resume: one schedule by id or name.
void add_one_schedule_verb(CLI::App* parent, const std::string& verb, const std::string& help,
                           http::verb method, const std::string& suffix, const std::string& done) {
  auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
  auto* cmd = parent->add_subcommand(verb, help);
  add_client_options(cmd, o->first);
  cmd->add_option("name", o->second, "Schedule name or id")->required();
  cmd->callback([o, method, suffix, done] {
    Client client(o->first);
    auto s = client.call_json(method, "/api/v1/schedules/" + url_encode(o->second) + suffix,
                              method == http::verb::post ? json::object() : json(nullptr));
    if (o->first.json_output)
      std::cout << s.dump(2) << "\n";
    else if (done.empty())
      print_schedule(s);
    else
      std::cout << done << " " << str(s["name"]) << " (" << str(s["id"]) << ")\n";
  });
}

}  // namespace

void add_schedule_commands(CLI::App& app) {
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand("schedules", "List scheduled jobs with their next run");
    add_client_options(cmd, *o);
    cmd->callback([o] {
      Client client(*o);
      auto body = client.call_json(http::verb::get, "/api/v1/schedules");
      if (o->json_output) {
        std::cout << body.dump(2) << "\n";
        return;
      }
      std::vector<std::vector<std::string>> rows{
          {"NAME", "CRON", "TIMEZONE", "NEXT RUN", "LAST RUN", "LAST JOB"}};
      for (const auto& s : body["schedules"]) {
        std::string next = !s["paused"].get<bool>() ? str(s["next_run_at"])
                           : s["paused_reason"].is_string()
                               ? "(paused: " + str(s["paused_reason"]) + ")"
                               : "(paused)";
        rows.push_back({str(s["name"]), str(s["cron"]), str(s["timezone"]), next,
                        str(s["last_run_at"]), str(s["last_job_id"])});
      }
      print_table(rows);
    });
  }
  auto* schedule =
      app.add_subcommand("schedule", "Create, show, delete, pause or resume a scheduled job");
  schedule->require_subcommand(1);
  {
    auto o = std::make_shared<CreateOptions>();
    auto* cmd = schedule->add_subcommand("create",
                                         "Make a job at each cron tick: corral schedule create "
                                         "NAME --cron '0 2 * * *' [flags] -- COMMAND");
    add_client_options(cmd, o->client);
    cmd->add_option("name", o->name, "Schedule name (unique in your tenant)")->required();
    cmd->add_option("--cron", o->cron, "Cron expression, e.g. '0 2 * * *' or @hourly")->required();
    cmd->add_option("--timezone", o->timezone,
                    "IANA time zone the cron is read in, e.g. Europe/Berlin (default UTC)");
    cmd->add_option("--cooldown", o->cooldown,
                    "Skip a tick this soon after the last run: seconds or 30m, 1h, 2d");
    add_job_flags(cmd, o->job, "--job-name");
    cmd->callback([o, cmd] {
      auto cooldown = parse_duration_s(o->cooldown);
      if (!cooldown)
        usage_error("--cooldown '" + o->cooldown +
                    "': give seconds (3600) or a number with s, m, h or d (1h)");
      json body{{"name", o->name},
                {"cron", o->cron},
                {"timezone", o->timezone},
                {"cooldown_s", *cooldown},
                {"job", job_spec_from_flags(o->job, cmd)}};
      Client client(o->client);
      auto s = client.call_json(http::verb::post, "/api/v1/schedules", body);
      if (o->client.json_output) {
        std::cout << s.dump(2) << "\n";
        return;
      }
      std::cout << "created " << str(s["name"]) << " (" << str(s["id"]) << "); next run "
                << str(s["next_run_at"]) << "\n";
    });
  }
  add_one_schedule_verb(schedule, "show", "Show one schedule", http::verb::get, "", "");
  add_one_schedule_verb(schedule, "delete", "Delete a schedule (the jobs it made stay)",
                        http::verb::delete_, "", "deleted");
  add_one_schedule_verb(schedule, "pause", "Stop making jobs until resumed", http::verb::post,
                        "/pause", "paused");
  add_one_schedule_verb(schedule, "resume", "Make jobs again, from the next tick on",
                        http::verb::post, "/resume", "resumed");
}

}  // namespace corral::cli

// `corral jobs`, `corral job ID`, `corral cancel ID`, `corral logs ID`.
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

std::string exit_text(const json& job) {
  if (!job["exit_code"].is_null()) return std::to_string(job["exit_code"].get<int>());
  return "-";
}

void print_job(const json& job) {
  std::cout << "id:          " << str(job["id"]) << "\n"
            << "name:        " << str(job["name"]) << "\n"
            << "state:       " << str(job["state"])
            << (job["cancel_requested"].get<bool>() && job["state"] != "canceled"
                    ? " (cancel requested)"
                    : "")
            << "\n"
            << "exit code:   " << exit_text(job) << "\n"
            << "reason:      " << str(job["reason"]) << "\n"
            << "labels:      " << job["labels"].dump() << "\n"
            << "group:       " << str(job["group"])
            << (job.value("group_source", json()) == "repo"
                    ? " (from the mapping of " + str(job["repo_name"]) + ")"
                    : "")
            << "\n"
            << "priority:    " << job["priority"].dump() << "\n"
            << "attempt:     " << job["attempt"].dump() << " of " << job["max_attempts"].dump()
            << "\n"
            << "created:     " << str(job["created_at"]) << "\n"
            << "started:     " << str(job["started_at"]) << "\n"
            << "finished:    " << str(job["finished_at"]) << "\n";
  if (!job["result"].is_null()) std::cout << "result:      " << job["result"].dump() << "\n";
  if (!job["attempts"].empty()) {
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows{
        {"ATTEMPT", "RUNNER", "STATE", "EXIT", "REASON", "CLAIMED", "STARTED", "FINISHED"}};
    for (const auto& a : job["attempts"]) {
      rows.push_back({a["attempt"].dump(), str(a["runner_name"]), str(a["state"]),
                      a["exit_code"].is_null() ? "-" : a["exit_code"].dump(), str(a["reason"]),
                      str(a["claimed_at"]), str(a["started_at"]), str(a["finished_at"])});
    }
    print_table(rows);
  }
}

}  // namespace

void add_job_commands(CLI::App& app) {
  {
    struct Opts {
      ClientOptions client;
      std::string state;
      int limit = 20;
      std::string cursor;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("jobs", "List jobs, newest first");
    add_client_options(cmd, o->client);
    cmd->add_option("--state", o->state, "Only jobs in this state");
    cmd->add_option("--limit", o->limit, "How many")->check(CLI::Range(1, 500));
    cmd->add_option("--cursor", o->cursor, "Continue after a previous page");
    cmd->callback([o] {
      Client client(o->client);
      std::string target = "/api/v1/jobs?limit=" + std::to_string(o->limit);
      if (!o->state.empty()) target += "&state=" + url_encode(o->state);
      if (!o->cursor.empty()) target += "&cursor=" + url_encode(o->cursor);
      auto page = client.call_json(http::verb::get, target);
      if (o->client.json_output) {
        std::cout << page.dump(2) << "\n";
        return;
      }
      std::vector<std::vector<std::string>> rows{
          {"ID", "STATE", "NAME", "ATTEMPT", "EXIT", "LABELS", "CREATED"}};
      for (const auto& j : page["jobs"]) {
        std::string labels;
        for (const auto& l : j["labels"])
          labels += (labels.empty() ? "" : ",") + l.get<std::string>();
        rows.push_back({str(j["id"]), str(j["state"]), str(j["name"]), j["attempt"].dump(),
                        exit_text(j), labels.empty() ? "-" : labels, ago(j["created_at"])});
      }
      print_table(rows);
      if (!page["next_cursor"].is_null()) {
        std::cout << "(more: --cursor " << page["next_cursor"].get<std::string>() << ")\n";
      }
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = app.add_subcommand("job", "Show one job with its attempts");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Job id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto job = client.call_json(http::verb::get, "/api/v1/jobs/" + url_encode(o->second));
      if (o->first.json_output)
        std::cout << job.dump(2) << "\n";
      else
        print_job(job);
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd =
        app.add_subcommand("cancel", "Cancel a job (queued: at once; running: through its runner)");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Job id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto job = client.call_json(
          http::verb::post, "/api/v1/jobs/" + url_encode(o->second) + "/cancel", json::object());
      if (o->first.json_output)
        std::cout << job.dump(2) << "\n";
      else if (job["state"] == "canceled")
        std::cout << "canceled " << str(job["id"]) << "\n";
      else
        std::cout << "cancel requested for " << str(job["id"])
                  << "; its runner stops it at its next heartbeat\n";
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = app.add_subcommand("why", "Say what keeps a queued job waiting");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Job id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto why =
          client.call_json(http::verb::get, "/api/v1/jobs/" + url_encode(o->second) + "/why");
      if (o->first.json_output) {
        std::cout << why.dump(2) << "\n";
        return;
      }
      if (!why.value("waiting", false)) {
        std::cout << str(why["job_id"]) << ": not waiting: " << str(why["summary"]) << "\n";
        return;
      }
      const auto& m = why["matching_runners"];
      std::cout << str(why["job_id"]) << " is queued (position " << why.value("position", 0) + 1
                << "; " << m.value("online", 0) << " of " << m.value("total", 0)
                << " matching runners online, " << m.value("slots_used", 0) << "/"
                << m.value("slots_total", 0) << " slots used)\n";
      for (const auto& r : why["reasons"]) {
        std::cout << "  - " << str(r["message"]) << "\n";
        if (r.contains("runners")) {
          for (const auto& runner : r["runners"]) {
            std::cout << "      " << str(runner["name"]) << "  " << str(runner["status"])
                      << "  last seen " << str(runner["last_seen"]);
            if (runner.contains("lacks")) std::cout << "  " << str(runner["lacks"]);
            std::cout << "\n";
          }
        }
      }
    });
  }
  {
    struct Opts {
      ClientOptions client;
      std::string id;
      int attempt = 0;
      bool follow = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd =
        app.add_subcommand("logs", "Print a job's log (the latest attempt unless --attempt)");
    add_client_options(cmd, o->client);
    cmd->add_option("id", o->id, "Job id")->required();
    cmd->add_option("--attempt", o->attempt, "Attempt number");
    cmd->add_flag("-f,--follow", o->follow,
                  "Follow the live log until the job ends; exit with its exit code");
    cmd->callback([o] {
      Client client(o->client);
      if (o->follow) {
        int code = follow_job(client, o->id, o->attempt);
        if (code != 0) throw CLI::RuntimeError(code);
        return;
      }
      std::string target = "/api/v1/jobs/" + url_encode(o->id) + "/logs?offset=0";
      if (o->attempt > 0) target += "&attempt=" + std::to_string(o->attempt);
      auto res = client.call(http::verb::get, target);
      std::cout << res.body << std::flush;
    });
  }
}

}  // namespace corral::cli

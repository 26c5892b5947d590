// `corral runners`, `corral queue`, `corral tokens create|list|revoke`.
#include <unistd.h>

#include <iostream>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

std::string join(const json& list) {
  std::string out;
  for (const auto& v : list) out += (out.empty() ? "" : ",") + v.get<std::string>();
  return out.empty() ? "-" : out;
}

std::string gib(const json& bytes) {
  if (!bytes.is_number() || bytes.get<int64_t>() <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fG", bytes.get<double>() / (1024.0 * 1024 * 1024));
  return buf;
}

// Runs show() once, or every `watch_s` seconds until interrupted, redrawing a terminal.
void watch_or_once(double watch_s, const std::function<void()>& show) {
  if (watch_s <= 0) {
    show();
    return;
  }
  bool tty = ::isatty(1) == 1;
  for (;;) {
    if (tty) std::cout << "\033[H\033[2J";
    show();
    if (tty) std::cout << "\n(every " << watch_s << "s; Ctrl-C to stop)" << std::endl;
    std::cout.flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(watch_s * 1000)));
  }
}

void add_watch_option(CLI::App* cmd, double& watch_s) {
  cmd->add_option("-w,--watch", watch_s, "Refresh every N seconds (default 2) until Ctrl-C")
      ->expected(0, 1)
      ->default_str("2")
      ->check(CLI::Range(0.2, 3600.0));
}

}  // namespace

void add_registry_commands(CLI::App& app) {
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand(
        "runners", "List runners and their status; `runners rm` and `runners resume` (admin)");
    add_client_options(cmd, *o);
    auto watch = std::make_shared<double>(0);
    add_watch_option(cmd, *watch);
    cmd->require_subcommand(0, 1);
    auto* runners = cmd;
    {
      auto rm = std::make_shared<std::pair<ClientOptions, std::string>>();
      auto* sub = runners->add_subcommand(
          "rm",
          "Remove a runner (admin): its secret stops working and its jobs go back to the queue");
      add_client_options(sub, rm->first);
      sub->add_option("id", rm->second, "Runner id")->required();
      sub->callback([rm] {
        Client client(rm->first);
        auto r = client.call_json(http::verb::delete_, "/api/v1/runners/" + url_encode(rm->second));
        if (rm->first.json_output) {
          std::cout << r.dump(2) << "\n";
          return;
        }
        std::cout << "removed " << str(r["name"]) << " (" << str(r["id"]) << ")";
        if (!r["requeued_jobs"].empty()) std::cout << "; requeued " << join(r["requeued_jobs"]);
        std::cout << "\n";
      });
    }
    {
      auto resume = std::make_shared<std::pair<ClientOptions, std::string>>();
      auto* sub =
          runners->add_subcommand("resume", "End an admin's drain: the runner takes jobs again");
      add_client_options(sub, resume->first);
      sub->add_option("id", resume->second, "Runner id")->required();
      sub->callback([resume] {
        Client client(resume->first);
        auto r = client.call_json(http::verb::post,
                                  "/api/v1/runners/" + url_encode(resume->second) + "/resume",
                                  json::object());
        if (resume->first.json_output)
          std::cout << r.dump(2) << "\n";
        else
          std::cout << str(r["name"]) << " (" << str(r["id"]) << ") takes jobs again\n";
      });
    }
    cmd->callback([o, watch, runners] {
      if (!runners->get_subcommands().empty()) return;
      Client client(*o);
      watch_or_once(*watch, [&] {
        auto body = client.call_json(http::verb::get, "/api/v1/runners");
        if (o->json_output) {
          std::cout << body.dump(*watch > 0 ? -1 : 2) << "\n";
          return;
        }
        std::vector<std::vector<std::string>> rows{{"ID", "NAME", "STATUS", "JOBS", "LABELS",
                                                    "GROUP", "LAST HEARTBEAT", "CPUS", "MEMORY",
                                                    "VERSION"}};
        for (const auto& r : body["runners"]) {
          rows.push_back({str(r["id"]), str(r["name"]), str(r["status"]),
                          r["running_jobs"].dump() + "/" + r["max_concurrent_jobs"].dump(),
                          join(r["labels"]), str(r["group"]), ago(r["last_heartbeat_at"]),
                          r["system"]["cpus"].dump(), gib(r["system"]["memory_bytes"]),
                          str(r["version"])});
        }
        print_table(rows);
      });
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand(
        "queue", "Queue depth by state, group and label set, and what each waiting job waits for");
    add_client_options(cmd, *o);
    auto watch = std::make_shared<double>(0);
    add_watch_option(cmd, *watch);
    cmd->callback([o, watch] {
      Client client(*o);
      watch_or_once(*watch, [&] {
        auto q = client.call_json(http::verb::get, "/api/v1/queue");
        if (o->json_output) {
          std::cout << q.dump(*watch > 0 ? -1 : 2) << "\n";
          return;
        }
        std::vector<std::vector<std::string>> states{{"STATE", "JOBS"}};
        for (auto s : {"queued", "leased", "running", "succeeded", "failed", "canceled"}) {
          states.push_back({s, q["by_state"].value(s, json(0)).dump()});
        }
        print_table(states);
        std::cout << "\noldest queued: "
                  << (q["oldest_queued_age_s"].is_null()
                          ? std::string("-")
                          : std::to_string(
                                static_cast<long>(q["oldest_queued_age_s"].get<double>())) +
                                "s")
                  << "   runners: " << q["runners"]["idle"].dump() << " idle, "
                  << q["runners"]["busy"].dump() << " busy, " << q["runners"]["draining"].dump()
                  << " draining, " << q["runners"]["offline"].dump() << " offline\n\n";
        std::vector<std::vector<std::string>> groups{{"GROUP", "QUEUED", "RUNNING"}};
        for (const auto& g : q["by_group"]) {
          groups.push_back(
              {g["group"].get<std::string>().empty() ? "(any)" : g["group"].get<std::string>(),
               g["queued"].dump(), g["running"].dump()});
        }
        print_table(groups);
        std::cout << "\n";
        std::vector<std::vector<std::string>> labels{{"LABELS", "QUEUED"}};
        for (const auto& l : q["by_labels"])
          labels.push_back({join(l["labels"]), l["queued"].dump()});
        print_table(labels);
        if (q.contains("waiting") && !q["waiting"].empty()) {
          std::cout << "\n";
          std::vector<std::vector<std::string>> waiting{{"JOB", "NAME", "PRIORITY", "WAITING FOR"}};
          for (const auto& w : q["waiting"]) {
            waiting.push_back(
                {str(w["id"]), str(w["name"]), w["priority"].dump(), str(w["reason"])});
          }
          print_table(waiting);
        }
      });
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = app.add_subcommand("drain",
                                   "Ask a runner to take no new jobs (admin); running jobs finish");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Runner id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto r = client.call_json(
          http::verb::post, "/api/v1/runners/" + url_encode(o->second) + "/drain", json::object());
      if (o->first.json_output)
        std::cout << r.dump(2) << "\n";
      else
        std::cout << "draining " << str(r["name"]) << " (" << str(r["id"])
                  << "); it takes no new jobs\n";
    });
  }
  {
    struct Opts {
      ClientOptions client;
      std::string id, type;
      bool wait = false;
      double timeout_s = 600;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand(
        "runner-command",
        "Send a runner a remote command (admin): drain, resume, restart, or update to the binary "
        "the server offers (--runner-binary)");
    add_client_options(cmd, o->client);
    cmd->add_option("id", o->id, "Runner id")->required();
    cmd->add_option("command", o->type, "drain | resume | restart | update")
        ->required()
        ->check(CLI::IsMember({"drain", "resume", "restart", "update"}));
    cmd->add_flag("--wait", o->wait,
                  "Wait until the runner reports how it went; exit 1 if it failed");
    cmd->add_option("--wait-timeout", o->timeout_s, "Seconds --wait waits at most")
        ->capture_default_str();
    cmd->callback([o] {
      Client client(o->client);
      std::string base = "/api/v1/runners/" + url_encode(o->id) + "/commands";
      json sent = client.call_json(http::verb::post, base, json{{"type", o->type}});
      json last = sent;
      auto deadline = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(o->timeout_s * 1000));
      while (o->wait && last["state"] != "succeeded" && last["state"] != "failed" &&
             last["state"] != "canceled" && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));  // polling the API
        json listed = client.call_json(http::verb::get, base);
        for (const auto& c : listed["commands"]) {
          if (c["id"] == sent["id"]) last = c;
        }
      }
      if (o->client.json_output) {
        std::cout << last.dump(2) << "\n";
      } else {
        std::cout << str(last["type"]) << " " << str(last["id"]) << ": " << str(last["state"]);
        if (last.contains("version") && !str(last["version"]).empty())
          std::cout << " (version " << str(last["version"]) << ")";
        if (!str(last["message"]).empty()) std::cout << ": " << str(last["message"]);
        std::cout << "\n";
      }
      if (o->wait && last["state"] != "succeeded") {
        if (last["state"] == "pending" || last["state"] == "delivered")
          std::cerr << "corral runner-command: no answer from the runner in " << o->timeout_s
                    << " s; `corral runner-command` again or GET " << base << " shows it later\n";
        throw CLI::RuntimeError(1);
      }
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = app.add_subcommand("whoami", "Show the token you call with (kind, tenant, name)");
    add_client_options(cmd, *o);
    cmd->callback([o] {
      Client client(*o);
      auto me = client.call_json(http::verb::get, "/api/v1/me");
      if (o->json_output) {
        std::cout << me.dump(2) << "\n";
        return;
      }
      std::cout << "token:   " << str(me["id"]) << " (" << str(me["name"]) << ")\n"
                << "kind:    " << str(me["kind"]) << "\n"
                << "tenant:  " << str(me["tenant"]) << "\n";
    });
  }
  auto* tokens = app.add_subcommand("tokens", "Manage API tokens (admin)");
  tokens->require_subcommand(1);
  {
    struct Opts {
      ClientOptions client;
      std::string kind = "user", tenant, name, group;
      std::vector<std::string> labels;
      bool owner_only = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = tokens->add_subcommand("create", "Create a token; its secret is printed once");
    add_client_options(cmd, o->client);
    cmd->add_option("--kind", o->kind, "admin, user or runner")
        ->check(CLI::IsMember({"admin", "user", "runner"}));
    cmd->add_option("--tenant", o->tenant, "Tenant (default: yours)");
    cmd->add_option("--name", o->name, "What it is for")->required();
    cmd->add_option("--group", o->group,
                    "Runner tokens: the group every runner it registers is in (admin)");
    cmd->add_option("--label", o->labels,
                    "Runner tokens: the labels its runners get, repeatable (admin)");
    cmd->add_flag(
        "--owner-only", o->owner_only,
        "Runner tokens: its runners take only your jobs (always so for a user's runner tokens)");
    cmd->callback([o] {
      Client client(o->client);
      json body{{"kind", o->kind}, {"name", o->name}};
      if (!o->tenant.empty()) body["tenant"] = o->tenant;
      if (!o->group.empty()) body["group"] = o->group;
      if (!o->labels.empty()) body["labels"] = o->labels;
      if (o->owner_only) body["owner_only"] = true;
      auto t = client.call_json(http::verb::post, "/api/v1/tokens", body);
      if (o->client.json_output)
        std::cout << t.dump(2) << "\n";
      else
        std::cout << t["token"].get<std::string>() << "\n";
    });
  }
  {
    auto o = std::make_shared<ClientOptions>();
    auto* cmd = tokens->add_subcommand("list", "List tokens (never their secrets)");
    add_client_options(cmd, *o);
    cmd->callback([o] {
      Client client(*o);
      auto body = client.call_json(http::verb::get, "/api/v1/tokens");
      if (o->json_output) {
        std::cout << body.dump(2) << "\n";
        return;
      }
      std::vector<std::vector<std::string>> rows{
          {"ID", "KIND", "TENANT", "NAME", "CREATED", "LAST USED", "REVOKED"}};
      for (const auto& t : body["tokens"]) {
        rows.push_back({str(t["id"]), str(t["kind"]), str(t["tenant"]), str(t["name"]),
                        str(t["created_at"]), str(t["last_used_at"]), str(t["revoked_at"])});
      }
      print_table(rows);
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = tokens->add_subcommand("revoke", "Revoke a token by id");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Token id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto t = client.call_json(http::verb::delete_, "/api/v1/tokens/" + url_encode(o->second));
      if (o->first.json_output) {
        std::cout << t.dump(2) << "\n";
        return;
      }
      std::cout << "revoked " << str(t["token"]["id"]) << "\n";
      auto also = [](const json& list, const char* what) {
        if (!list.empty()) std::cout << "  " << what << ": " << join(list) << "\n";
      };
      also(t["revoked_runner_tokens"], "runner tokens it made, revoked");
      also(t["revoked_runners"], "runners registered through them, secrets revoked");
      also(t["requeued_jobs"], "their jobs, back in the queue");
      also(t["paused_schedules"], "its schedules, paused");
    });
  }
}

void add_submit_command(CLI::App& app);
void add_job_commands(CLI::App& app);

void add_client_commands(CLI::App& app) {
  add_submit_command(app);
  add_job_commands(app);
  add_registry_commands(app);
}

}  // namespace corral::cli

// corral workflow run|runs|show|cancel|rerun: workflow runs (docs/workflows.md).
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

std::string read_workflow_file(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error("cannot read workflow file " + path);
  text << in.rdbuf();
  return text.str();
}

// key=value pairs of a repeated option as an object.
json pairs_object(const std::vector<std::string>& pairs, const char* option) {
  json out = json::object();
  for (const auto& pair : pairs) {
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      usage_error(std::string(option) + " takes NAME=VALUE, got '" + pair + "'");
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return out;
}

void print_run(const json& run) {
  std::cout << "run:      " << str(run["id"]) << " (" << str(run["name"]) << ")\n"
            << "state:    " << str(run["state"]) << "\n"
            << "event:    " << str(run["event"]) << "\n";
  if (run["repo"].is_object()) {
    std::cout << "repo:     " << str(run["repo"]["url"]) << " "
              << run["repo"].value("sha", run["repo"].value("ref", "")) << "\n";
  }
  std::cout << "created:  " << str(run["created_at"]) << "\n";
  if (run["started_at"].is_string()) std::cout << "started:  " << str(run["started_at"]) << "\n";
  if (run["finished_at"].is_string()) std::cout << "finished: " << str(run["finished_at"]) << "\n";
  std::vector<std::vector<std::string>> rows{{"JOB", "STATE", "CORRAL JOB", "NEEDS", "NOTE"}};
  for (const auto& job : run["jobs"]) {
    std::string needs;
    for (const auto& n : job["needs"]) needs += (needs.empty() ? "" : ",") + n.get<std::string>();
    rows.push_back({str(job["name"]), str(job["state"]), str(job["job_id"]),
                    needs.empty() ? "-" : needs, job.value("message", "")});
  }
  print_table(rows);
  for (const auto& job : run["jobs"]) {
    if (job["steps"].empty() || job["state"] == "pending") continue;
    std::cout << "\n" << str(job["name"]) << ":\n";
    for (const auto& step : job["steps"]) {
      std::cout << "  " << str(step["state"]) << "  " << str(step["name"]);
      if (step.contains("exit_code") && step["exit_code"].is_number())
        std::cout << " (exit " << step["exit_code"] << ")";
      std::cout << "\n";
    }
  }
}

bool run_finished(const json& run) {
  const std::string state = run.value("state", "");
  return state == "succeeded" || state == "failed" || state == "canceled";
}

// Prints each job's state changes until the run finishes; the exit code: 0 when it succeeded.
int follow_run(Client& client, json run) {
  std::map<std::string, std::string> seen;
  std::string id = run["id"];
  for (;;) {
    for (const auto& job : run["jobs"]) {
      std::string state = job["state"];
      std::string& last = seen[job["key"].get<std::string>()];
      if (state == last) continue;
      last = state;
      std::cerr << str(job["name"]) << ": " << state;
      if (!job.value("message", "").empty())
        std::cerr << " (" << job["message"].get<std::string>() << ")";
      std::cerr << "\n";
    }
    if (run_finished(run)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run = client.call_json(http::verb::get, "/api/v1/workflow-runs/" + url_encode(id));
  }
  print_run(run);
  return run["state"] == "succeeded" ? 0 : 1;
}

}  // namespace

void add_workflow_commands(CLI::App& app) {
  auto* workflow = app.add_subcommand(
      "workflow", "Workflow runs: GitHub-Actions-style YAML (docs/workflows.md)");
  workflow->require_subcommand(1);
  {
    struct Opts {
      ClientOptions client;
      std::string file, repo, sha, ref, event = "manual";
      std::vector<std::string> inputs, secrets;
      bool follow = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = workflow->add_subcommand("run", "Start a run of a workflow file");
    add_client_options(cmd, o->client);
    cmd->add_option("file", o->file, "The workflow's YAML file (- for stdin)")->required();
    cmd->add_option("--repo", o->repo, "The repository actions/checkout checks out (URL)");
    cmd->add_option("--sha", o->sha, "Its commit");
    cmd->add_option("--ref", o->ref, "Its ref (refs/heads/main, ...)");
    cmd->add_option("--event", o->event, "push, pull_request or manual (the default)")
        ->check(CLI::IsMember({"manual", "push", "pull_request"}));
    cmd->add_option("--input", o->inputs, "NAME=VALUE for ${{ inputs.NAME }}, repeatable");
    cmd->add_option(
        "--secret", o->secrets,
        "NAME=VALUE for ${{ secrets.NAME }}, repeatable (NAME alone: the value of $NAME)");
    cmd->add_flag("--follow,-f", o->follow,
                  "Wait for the run, printing its jobs as they change; exit 0 when it succeeded");
    cmd->callback([o] {
      Client client(o->client);
      json body{{"workflow", read_workflow_file(o->file)}, {"event", o->event}};
      if (!o->repo.empty()) {
        body["repo"] = {{"url", o->repo}};
        if (!o->sha.empty()) body["repo"]["sha"] = o->sha;
        if (!o->ref.empty()) body["repo"]["ref"] = o->ref;
      } else if (!o->sha.empty() || !o->ref.empty()) {
        usage_error("--sha and --ref need --repo");
      }
      if (!o->inputs.empty()) body["inputs"] = pairs_object(o->inputs, "--input");
      std::vector<std::string> secrets;
      for (const auto& s : o->secrets) {
        if (s.find('=') != std::string::npos) {
          secrets.push_back(s);
          continue;
        }
        const char* value = std::getenv(s.c_str());
        if (!value) usage_error("--secret " + s + ": $" + s + " is not set");
        secrets.push_back(s + "=" + value);
      }
      if (!secrets.empty()) body["secrets"] = pairs_object(secrets, "--secret");
      auto run = client.call_json(http::verb::post, "/api/v1/workflow-runs", body);
      if (o->client.json_output && !o->follow) {
        std::cout << run.dump(2) << "\n";
        return;
      }
      if (!o->follow) {
        std::cout << run["id"].get<std::string>() << "\n";
        return;
      }
      std::cerr << "run " << run["id"].get<std::string>() << " (" << str(run["name"]) << ")\n";
      int code = follow_run(client, run);
      if (code != 0) throw CLI::RuntimeError(code);
    });
  }
  {
    struct Options {
      ClientOptions client;
      int limit = 20;
      std::string cursor;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = workflow->add_subcommand("runs", "List workflow runs, newest first");
    add_client_options(cmd, o->client);
    cmd->add_option("--limit", o->limit, "How many")->check(CLI::Range(1, 200));
    cmd->add_option("--cursor", o->cursor, "Continue after a previous page");
    cmd->callback([o] {
      Client client(o->client);
      std::string target = "/api/v1/workflow-runs?limit=" + std::to_string(o->limit);
      if (!o->cursor.empty()) target += "&cursor=" + url_encode(o->cursor);
      auto body = client.call_json(http::verb::get, target);
      if (o->client.json_output) {
        std::cout << body.dump(2) << "\n";
        return;
      }
      std::vector<std::vector<std::string>> rows{
          {"ID", "NAME", "STATE", "EVENT", "JOBS", "CREATED"}};
      for (const auto& run : body["runs"]) {
        int done = 0;
        for (const auto& job : run["jobs"]) {
          std::string s = job["state"];
          done += s == "succeeded" || s == "failed" || s == "canceled" || s == "skipped";
        }
        rows.push_back({str(run["id"]), str(run["name"]), str(run["state"]), str(run["event"]),
                        std::to_string(done) + "/" + std::to_string(run["jobs"].size()),
                        ago(run["created_at"])});
      }
      print_table(rows);
      if (!body["next_cursor"].is_null()) {
        std::cout << "(more: --cursor " << body["next_cursor"].get<std::string>() << ")\n";
      }
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    auto* cmd = workflow->add_subcommand("show", "A run with its jobs and their steps");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Run id")->required();
    cmd->callback([o] {
      Client client(o->first);
      auto run =
          client.call_json(http::verb::get, "/api/v1/workflow-runs/" + url_encode(o->second));
      if (o->first.json_output) {
        std::cout << run.dump(2) << "\n";
        return;
      }
      print_run(run);
    });
  }
  for (const char* verb : {"cancel", "rerun-failed"}) {
    auto o = std::make_shared<std::pair<ClientOptions, std::string>>();
    std::string what = verb;
    auto* cmd = workflow->add_subcommand(
        verb, what == "cancel"
                  ? "Cancel a run: running jobs stop, waiting ones are skipped"
                  : "Run a finished run's failed and canceled jobs, and what needs them, again");
    add_client_options(cmd, o->first);
    cmd->add_option("id", o->second, "Run id")->required();
    cmd->callback([o, what] {
      Client client(o->first);
      auto run = client.call_json(http::verb::post,
                                  "/api/v1/workflow-runs/" + url_encode(o->second) + "/" + what,
                                  json::object());
      if (o->first.json_output) {
        std::cout << run.dump(2) << "\n";
        return;
      }
      std::cout << str(run["id"]) << " " << str(run["state"]) << "\n";
    });
  }
}

}  // namespace corral::cli

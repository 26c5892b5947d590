// `corral review URL`, `corral analyze prs|issues REPO`, `corral resolve URL`: agent tasks
// (api/agent_tasks.h) submitted as jobs, with the common job flags beside their own.
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/agent_tasks.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/job_flags.h"

namespace corral::cli {

namespace {

struct TaskOptions {
  ClientOptions client;
  JobFlags job;
  std::string target;  // the PR or issue URL, or the repository
  std::string kind;    // analyze: prs | issues
  std::string prompt_file, cli = "auto", model, repo_url;
  int max_turns = 0;
  bool follow = false;
};

void add_task_flags(CLI::App* cmd, TaskOptions& o) {
  add_client_options(cmd, o.client);
  add_job_flags(cmd, o.job);
  cmd->add_option(
      "--prompt-file", o.prompt_file,
      "Your own prompt instead of the built-in one ({repo}, {number}, {url} are filled in)");
  cmd->add_option("--cli", o.cli,
                  "The agent: claude, codex, or auto (claude when the image has it)")
      ->check(CLI::IsMember({"claude", "codex", "auto"}));
  cmd->add_option("--model", o.model, "The model the agent uses (default: the CLI's)");
  cmd->add_option("--max-turns", o.max_turns, "Most turns the agent may take (Claude Code)");
  cmd->add_option("--repo-url", o.repo_url,
                  "Clone from here instead of the forge's https URL (a mirror, an ssh URL)");
  cmd->add_flag("--follow", o.follow, "Print the live log and exit with the job's exit code");
}

void submit_task(const TaskOptions& o, const CLI::App* cmd, std::string_view type,
                 const TaskTarget& parsed) {
  TaskTarget target = parsed;
  if (!o.repo_url.empty()) target.clone_url = o.repo_url;
  std::string prompt;
  if (!o.prompt_file.empty()) {
    std::ifstream in(o.prompt_file);
    if (!in) usage_error("cannot read the prompt file " + o.prompt_file);
    std::stringstream text;
    text << in.rdbuf();
    prompt = fill_task_prompt(text.str(), target);
    if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
      usage_error("the prompt file " + o.prompt_file + " is empty");
    }
  } else {
    prompt = default_task_prompt(type, target);
  }
  json spec = job_spec_from_flags(o.job, cmd);
  json task = agent_task_spec(type, target, prompt, o.cli);
  if (!o.model.empty()) task["agent"]["model"] = o.model;
  if (o.max_turns > 0) task["agent"]["max_turns"] = o.max_turns;
  // The task's fields, then what the flags or the spec file say on top.
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (it.key() == "repo" && it.value().is_object()) {
      for (auto r = it.value().begin(); r != it.value().end(); ++r)
        task["repo"][r.key()] = r.value();
    } else {
      task[it.key()] = it.value();
    }
  }
  Client client(o.client);
  auto res = client.call(http::verb::post, "/api/v1/jobs", task.dump());
  auto job = parse_answer(res.body);
  if (o.client.json_output) {
    std::cout << job.dump(2) << "\n";
  } else if (o.follow) {
    std::cerr << "submitted " << job["id"].get<std::string>() << " ("
              << task["name"].get<std::string>() << ")\n";
  } else {
    std::cout << job["id"].get<std::string>() << "\n";
  }
  if (o.follow) {
    int code = follow_job(client, job["id"].get<std::string>(), 0, job);
    if (code != 0) throw CLI::RuntimeError(code);
  }
}

}  // namespace

void add_agent_commands(CLI::App& app) {
  {
    auto o = std::make_shared<TaskOptions>();
    auto* cmd =
        app.add_subcommand("review", "Review a pull request with an agent: corral review URL");
    // The positionals first: the job flags end with `command`, which would take them.
    cmd->add_option("url", o->target,
                    "The pull request, e.g. https://github.com/OWNER/REPO/pull/12")
        ->required();
    add_task_flags(cmd, *o);
    cmd->callback([o, cmd] {
      auto target = parse_task_url(o->target, "pull");
      if (!target.ok()) usage_error(target.error().message);
      submit_task(*o, cmd, "review", *target);
    });
  }
  {
    auto o = std::make_shared<TaskOptions>();
    auto* cmd = app.add_subcommand(
        "analyze",
        "Analyse a repository's open pull requests or issues: corral analyze prs|issues REPO");
    cmd->add_option("what", o->kind, "prs or issues")
        ->required()
        ->check(CLI::IsMember({"prs", "issues"}));
    cmd->add_option("repo", o->target, "OWNER/REPO or https://github.com/OWNER/REPO")->required();
    add_task_flags(cmd, *o);
    cmd->callback([o, cmd] {
      auto target = parse_repo_target(o->target);
      if (!target.ok()) usage_error(target.error().message);
      submit_task(*o, cmd, o->kind == "prs" ? "analysis-pr" : "analysis-issue", *target);
    });
  }
  {
    auto o = std::make_shared<TaskOptions>();
    auto* cmd = app.add_subcommand("resolve",
                                   "Have an agent fix an issue on a branch (and push it when the "
                                   "runner may): corral resolve URL");
    cmd->add_option("url", o->target, "The issue, e.g. https://github.com/OWNER/REPO/issues/34")
        ->required();
    add_task_flags(cmd, *o);
    cmd->callback([o, cmd] {
      auto target = parse_task_url(o->target, "issues");
      if (!target.ok()) usage_error(target.error().message);
      submit_task(*o, cmd, "resolve", *target);
    });
  }
}

}  // namespace corral::cli

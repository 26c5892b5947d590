// `corral submit`: a job from flags, from a JSON file, or both (flags override the file).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/client.h"
#include "cli/commands.h"

namespace corral::cli {

namespace {

struct SubmitOptions {
  ClientOptions client;
  std::string file, name, image, script, group, type, network, memory, repo, ref, sha, idempotency_key;
  std::vector<std::string> labels, env, command;
  int priority = 0, timeout_s = 0, max_attempts = 0, depth = 0;
  double cpus = 0;
  bool follow = false;
};

json build_spec(const SubmitOptions& o, CLI::App* cmd) {
  json spec = json::object();
  if (!o.file.empty()) {
    std::stringstream text;
    if (o.file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(o.file);
      if (!in) {
        std::cerr << "error: cannot read " << o.file << "\n";
        throw CLI::RuntimeError(2);
      }
      text << in.rdbuf();
    }
    try {
      spec = json::parse(text.str());
    } catch (const json::parse_error& e) {
      std::cerr << "error: " << o.file << " is not valid JSON: " << e.what() << "\n";
      throw CLI::RuntimeError(2);
    }
  }
  if (!o.name.empty()) spec["name"] = o.name;
  if (!o.image.empty()) spec["image"] = o.image;
  if (!o.command.empty()) spec["command"] = o.command;
  if (!o.script.empty()) spec["script"] = o.script;
  if (!o.labels.empty()) {
    std::vector<std::string> labels;
    for (const auto& l : o.labels) {
      std::stringstream ss(l);
      std::string part;
      while (std::getline(ss, part, ',')) if (!part.empty()) labels.push_back(part);
    }
    spec["labels"] = labels;
  }
  if (!o.group.empty()) spec["group"] = o.group;
  if (!o.type.empty()) spec["type"] = o.type;
  if (!o.network.empty()) spec["network"] = o.network;
  if (cmd->count("--priority")) spec["priority"] = o.priority;
  if (cmd->count("--timeout")) spec["timeout_s"] = o.timeout_s;
  if (cmd->count("--max-attempts")) spec["max_attempts"] = o.max_attempts;
  for (const auto& kv : o.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "error: --env wants NAME=value, got '" << kv << "'\n";
      throw CLI::RuntimeError(2);
    }
    spec["env"][kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!o.memory.empty()) spec["resources"]["memory"] = o.memory;
  if (o.cpus > 0) spec["resources"]["cpus"] = o.cpus;
  if (!o.repo.empty()) {
    spec["repo"]["url"] = o.repo;
    if (!o.ref.empty()) spec["repo"]["ref"] = o.ref;
    if (!o.sha.empty()) spec["repo"]["sha"] = o.sha;
    if (o.depth > 0) spec["repo"]["depth"] = o.depth;
  }
  return spec;
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto o = std::make_shared<SubmitOptions>();
  auto* cmd = app.add_subcommand("submit", "Submit a job: corral submit [flags] -- COMMAND [ARGS...]");
  add_client_options(cmd, o->client);
  cmd->add_option("-f,--file", o->file, "Job spec as JSON ('-' reads stdin); flags override it");
  cmd->add_option("--name", o->name, "Job name");
  cmd->add_option("--image", o->image, "Container image (default: the runner's)");
  cmd->add_option("--script", o->script, "Shell script to run instead of a command");
  cmd->add_option("-l,--label", o->labels, "Required runner label (repeat or comma-separate)")->allow_extra_args(false);
  cmd->add_option("--group", o->group, "Runner group");
  cmd->add_option("--type", o->type, "Job type (runner modes: ci, review, analysis, ...)");
  cmd->add_option("--priority", o->priority, "Higher runs first (-1000..1000)");
  cmd->add_option("--timeout", o->timeout_s, "Seconds the job may run");
  cmd->add_option("--max-attempts", o->max_attempts, "Attempts before a lost job fails (default 3)");
  cmd->add_option("-e,--env", o->env, "NAME=value for the job's environment (repeatable)")->allow_extra_args(false);
  cmd->add_option("--memory", o->memory, "Memory limit, e.g. 512m");
  cmd->add_option("--cpus", o->cpus, "CPU limit, e.g. 1.5");
  cmd->add_option("--network", o->network, "Network mode, e.g. none");
  cmd->add_option("--repo", o->repo, "Git repository to clone into /workspace");
  cmd->add_option("--ref", o->ref, "Branch or tag to check out");
  cmd->add_option("--sha", o->sha, "Commit to check out");
  cmd->add_option("--depth", o->depth, "Clone depth");
  cmd->add_option("--idempotency-key", o->idempotency_key, "Submitting the same key again returns the same job");
  cmd->add_flag("--follow", o->follow, "Print the live log and exit with the job's exit code");
  cmd->add_option("command", o->command, "Command and arguments (after --)");
  cmd->callback([o, cmd] {
    json spec = build_spec(*o, cmd);
    Client client(o->client);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!o->idempotency_key.empty()) headers.emplace_back("Idempotency-Key", o->idempotency_key);
    auto res = client.call(http::verb::post, "/api/v1/jobs", spec.dump(), headers);
    auto job = json::parse(res.body);
    if (o->client.json_output) {
      std::cout << job.dump(2) << "\n";
    } else if (o->follow) {
      std::cerr << "submitted " << job["id"].get<std::string>() << "\n";  // stdout is the job's log
    } else {
      std::cout << job["id"].get<std::string>() << "\n";
      if (res.status == 200) std::cerr << "(an existing job with this idempotency key)\n";
    }
    if (o->follow) {
      int code = follow_job(client, job["id"].get<std::string>(), 0, job);
      if (code != 0) throw CLI::RuntimeError(code);
    }
  });
}

}  // namespace corral::cli

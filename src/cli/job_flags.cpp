#include "cli/job_flags.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/client.h"
#include "common/json_limits.h"

namespace corral::cli {

void add_job_flags(CLI::App* cmd, JobFlags& f, const std::string& name_flag) {
  cmd->add_option("-f,--file", f.file, "Job spec as JSON ('-' reads stdin); flags override it");
  cmd->add_option(name_flag, f.name, "Job name");
  cmd->add_option("--image", f.image, "Container image (default: the runner's)");
  cmd->add_option("--script", f.script, "Shell script to run instead of a command");
  cmd->add_option("-l,--label", f.labels, "Required runner label (repeat or comma-separate)")
      ->allow_extra_args(false);
  cmd->add_option("--group", f.group, "Runner group");
  cmd->add_option("--type", f.type, "Job type (runner modes: ci, review, analysis, ...)");
  cmd->add_option("--priority", f.priority, "Higher runs first (-1000..1000)");
  cmd->add_option("--timeout", f.timeout_s, "Seconds the job may run");
  cmd->add_option("--max-attempts", f.max_attempts,
                  "Attempts in all, retries included (default 3)");
  cmd->add_option("-e,--env", f.env, "NAME=value for the job's environment (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--memory", f.memory, "Memory limit, e.g. 512m");
  cmd->add_option("--cpus", f.cpus, "CPU limit, e.g. 1.5");
  cmd->add_option("--network", f.network, "Network mode, e.g. none");
  cmd->add_option("--repo", f.repo, "Git repository to clone into /workspace");
  cmd->add_option("--ref", f.ref, "Branch or tag to check out");
  cmd->add_option("--sha", f.sha, "Commit to check out");
  cmd->add_option("--depth", f.depth, "Clone depth");
  cmd->add_option("--steward-fallback", f.steward_fallback,
                  "on: the repository's steward may run it when every runner that could is stale "
                  "(default: your "
                  "`corral settings`)")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("command", f.command, "Command and arguments (after --)");
}

std::string read_input_file(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) usage_error("cannot read " + path);
    text << in.rdbuf();
  }
  return text.str();
}

nlohmann::json job_spec_from_flags(const JobFlags& f, const CLI::App* cmd) {
  using nlohmann::json;
  json spec = json::object();
  if (!f.file.empty()) {
    auto parsed = parse_json_limited(read_input_file(f.file),
                                     f.file == "-" ? "the job spec on stdin" : f.file);
    if (!parsed.ok()) usage_error(parsed.error().message);
    spec = std::move(parsed.value());
  }
  apply_job_flags(spec, f, cmd);
  return spec;
}

void apply_job_flags(nlohmann::json& spec, const JobFlags& f, const CLI::App* cmd) {
  using nlohmann::json;
  if (!f.name.empty()) spec["name"] = f.name;
  if (!f.image.empty()) spec["image"] = f.image;
  if (!f.command.empty()) spec["command"] = f.command;
  if (!f.script.empty()) spec["script"] = f.script;
  if (!f.labels.empty()) {
    std::vector<std::string> labels;
    for (const auto& l : f.labels) {
      std::stringstream ss(l);
      std::string part;
      while (std::getline(ss, part, ','))
        if (!part.empty()) labels.push_back(part);
    }
    spec["labels"] = labels;
  }
  if (!f.group.empty()) spec["group"] = f.group;
  if (!f.type.empty()) spec["type"] = f.type;
  if (!f.network.empty()) spec["network"] = f.network;
  if (!f.steward_fallback.empty()) spec["steward_fallback"] = f.steward_fallback == "on";
  if (cmd->count("--priority")) spec["priority"] = f.priority;
  if (cmd->count("--timeout")) spec["timeout_s"] = f.timeout_s;
  if (cmd->count("--max-attempts")) spec["max_attempts"] = f.max_attempts;
  for (const auto& kv : f.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) usage_error("--env wants NAME=value, got '" + kv + "'");
    spec["env"][kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (!f.memory.empty()) spec["resources"]["memory"] = f.memory;
  if (f.cpus > 0) spec["resources"]["cpus"] = f.cpus;
  if (!f.repo.empty()) {
    spec["repo"]["url"] = f.repo;
    if (!f.ref.empty()) spec["repo"]["ref"] = f.ref;
    if (!f.sha.empty()) spec["repo"]["sha"] = f.sha;
    if (f.depth > 0) spec["repo"]["depth"] = f.depth;
  }
}

}  // namespace corral::cli

// The flags that describe a job, shared by `corral submit` and `corral schedule create`:
// a JSON spec file (or '-' for stdin) and/or flags, the flags overriding the file.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace corral::cli {

struct JobFlags {
  std::string file, name, image, script, group, type, network, memory, repo, ref, sha;
  std::string steward_fallback;  // "on" | "off" | "" (your setting)
  std::vector<std::string> labels, env, command;
  int priority = 0, timeout_s = 0, max_attempts = 0, depth = 0;
  double cpus = 0;
};

// name_flag: "--name" for submit; "--job-name" where --name means something else.
void add_job_flags(CLI::App* cmd, JobFlags& flags, const std::string& name_flag = "--name");
// The spec the flags describe; a bad file or --env exits with a usage error (code 2).
nlohmann::json job_spec_from_flags(const JobFlags& flags, const CLI::App* cmd);
// The flags that were given, set on spec (over what it says).
void apply_job_flags(nlohmann::json& spec, const JobFlags& flags, const CLI::App* cmd);
// The whole text of a file, or of stdin for "-"; a file that cannot be read is a usage error.
std::string read_input_file(const std::string& path);

}  // namespace corral::cli

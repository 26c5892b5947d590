// Where a runner keeps each attempt's files, and how a repository gets into them.
//
//   DOCKER_WORKSPACE_BASE/
//   ├── .spool/
//   │   └── <job_id>-<attempt>.log     log bytes not yet acknowledged by the server
//   └── <job_id>/
//       └── <attempt>/                  bind-mounted at /workspace, the job's working dir
//           └── ... the clone of spec.repo, when the job names one
//
// Both are removed when the attempt ends, whatever happened.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "api/types.h"
#include "common/result.h"

namespace corral {

struct WorkspacePaths {
  std::filesystem::path dir;         // <base>/<job>/<attempt>
  std::filesystem::path spool_file;  // <base>/.spool/<job>-<attempt>.log
};

WorkspacePaths workspace_paths(const std::filesystem::path& base, const std::string& job_id, int attempt);

// Output of a command run to completion.
struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv (no shell) with extra environment variables; blocks. For git and friends.
Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& extra_env,
                                  const std::filesystem::path& cwd = {});

// Clones repo into dir: fetches ref or sha at the given depth (0 = full) and checks it out.
// A token, when given, reaches git through the environment and a credential helper,
// never on a command line, and is scrubbed from any output. Blocks; errors are kClone.
Result<std::string> clone_repository(const RepoSpec& repo, int depth, const std::filesystem::path& dir,
                                     const std::string& token);

// "git version 2.39.5" -> "2.39.5"; empty when git is missing.
std::string git_version();

}  // namespace corral

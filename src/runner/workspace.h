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
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "common/spawn.h"

namespace corral {

struct WorkspacePaths {
  std::filesystem::path dir;         // <base>/<job>/<attempt>
  std::filesystem::path spool_file;  // <base>/.spool/<job>-<attempt>.log
};

WorkspacePaths workspace_paths(const std::filesystem::path& base, const std::string& job_id,
                               int attempt);

// Runs argv (no shell) with extra environment variables; blocks. For git and friends; the
// killer, when given, can end it and what it started (run_process in common/spawn.h).
Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& extra_env,
                                  const std::filesystem::path& cwd = {},
                                  CommandKiller* killer = nullptr);

struct CloneOptions {
  int depth = 0;      // git fetch --depth (0 = full history)
  std::string token;  // given to git only for the hosts below, only over https
  std::vector<std::string> credential_hosts;  // RUNNER_GIT_HOSTS: "host" or "host:port"
  bool allow_local = false;                   // RUNNER_ALLOW_LOCAL_REPOS: the file transport
  CommandKiller* killer = nullptr;            // the clone's timeout and cancel
};

// A git credential helper (the value of a credential.*.helper setting) that answers `get`
// with the token in the environment variable `token_variable`, as user x-access-token (what
// GitHub and most forges take for a token); it ignores `store` and `erase`. Neither the
// token nor anything derived from it is in the text.
std::string git_credential_helper(std::string_view token_variable);

// The `git -c ...` arguments that give the token to a credential helper scoped to
// https://<host> for each credential host (git's own URL matching: other hosts, other
// ports and plain http get nothing), after clearing every helper the host's git config has.
// The helper reads the token from $CORRAL_GIT_TOKEN: no command line holds it.
std::vector<std::string> git_credential_args(const std::vector<std::string>& credential_hosts);

// The command line start and the environment of every git command run for a clone: no
// prompts, only the allowed transports, and the token (if any) through the credential helper.
struct GitInvocation {
  std::vector<std::string> argv;  // "git", "-c", ...: the subcommand and its arguments follow
  std::map<std::string, std::string> env;
};
GitInvocation git_invocation(const CloneOptions& options);

// text with every occurrence of secret replaced by [MASKED].
std::string scrub_secret(std::string text, const std::string& secret);

// Clones repo into dir: fetches ref or sha at the given depth (0 = full) and checks it out.
// Only the https, http, ssh and git transports (and file, when allowed) are enabled; every
// URL and ref follows `--`. A token, when given, reaches git through the environment and a
// credential helper (git_credential_args), never on a command line, and is scrubbed from any
// output. Blocks; errors are kClone (a killed clone: "killed").
Result<std::string> clone_repository(const RepoSpec& repo, const std::filesystem::path& dir,
                                     const CloneOptions& options);

// Makes dir (recursively, not following links) usable by the container user `user`
// ("uid[:gid]" or a name): chowned to it when the runner is root and the user is numeric,
// else opened to everyone (a+rwX; the workspace base above it stays the runner's own).
Result<void> open_workspace_to(const std::filesystem::path& dir, const std::string& user);

// "git version 2.39.5" -> "2.39.5"; empty when git is missing.
std::string git_version();

}  // namespace corral

// `corral runner setup`: asks for a runner's settings one question at a time, checks the
// server URL and token by registering, validates each answer the way the runner validates it
// at start (build_runner_config), and writes a YAML config file (`--config`) or a .env file
// (runner/env_file.h), mode 0600: the token is a secret.
//
//   server URL -> token -> name -> register --accepted--> labels -> jobs at once -> executor
//       ^           ^        ^        |                                              |
//       |           |        +--------+ 400/409: the name is refused or taken        docker:
//       |           +-----------------+ 401/403: the token is refused                engine,
//       +-----------------------------+ cannot connect, or not a corral server       image,
//                                                                                    memory,
//   then the workspace directory, the file is written, and the start command shown.  CPUs
//
// The name is asked before the check because registering is what the check does: the runner
// is registered under the name it will use (the same name and token again are the same
// runner), so no stray runner is left behind and a name taken by another token shows now.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>

#include "common/result.h"
#include "runner/config.h"

namespace corral {

enum class SetupFileFormat { kYaml, kEnv };

struct SetupTarget {
  std::filesystem::path path = ".env";
  SetupFileFormat format = SetupFileFormat::kEnv;
};

// What registering with the answers so far gave; all but kAccepted send the wizard back to
// the question whose answer was refused.
enum class RegistrationOutcome { kAccepted, kServerUnreachable, kTokenRefused, kNameRefused };
struct RegistrationCheck {
  RegistrationOutcome outcome = RegistrationOutcome::kServerUnreachable;
  std::string message;  // what the user reads: the server's words, or why it was not reached
};
using RegistrationChecker = std::function<RegistrationCheck(const RunnerConfig&)>;

// POST /api/v1/runners/register as the runner sends it (server URL, token, name). The runner
// then shows as registered (idle until the heartbeat timeout marks it offline) until it is
// started with the file.
RegistrationCheck register_runner_once(const RunnerConfig& config);

struct SetupOptions {
  SetupTarget target;
  // Defaults for the answers, over those read from the target (or its .env.example seed):
  // what the environment and flags already set when `corral runner` offers the setup.
  std::map<std::string, std::string> known;
  std::string default_name;  // the machine's hostname
  // stdin is a terminal: its echo is off while the token is typed.
  bool hide_token_input = false;
  RegistrationChecker check_registration = register_runner_once;
};

// Asks on `in`/`out`, writes the target, and returns the settings it wrote (the answers; a
// .env keeps its other lines, a YAML file its other settings). An error when the input ends
// before the last answer (nothing is written) or the file cannot be written.
Result<std::map<std::string, std::string>> run_setup(std::istream& in, std::ostream& out,
                                                     const SetupOptions& options);

// How to start a runner with that file: "corral runner --env-file .env".
std::string runner_start_command(const SetupTarget& target);

}  // namespace corral

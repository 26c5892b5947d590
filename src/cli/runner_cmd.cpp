// `corral runner`: the agent. Settings from --config, then the environment, then flags.
// Monk CI's form `corral runner API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]`
// works too: its arguments count as flags (runner/setting_aliases.h).
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "runner/agent.h"
#include "runner/setting_aliases.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/shell/shell_runtime.h"

namespace corral::cli {

RuntimeFactory runtime_factory(const RunnerConfig& config) {
  return [config](asio::any_io_executor ex) -> Result<std::unique_ptr<ContainerRuntime>> {
    if (config.executor == "shell") return std::unique_ptr<ContainerRuntime>(std::make_unique<ShellRuntime>(ex));
    DockerConfig docker;
    docker.host = config.docker_host;
    auto rt = DockerRuntime::open(ex, docker);
    if (!rt.ok()) return rt.error();
    return std::unique_ptr<ContainerRuntime>(std::move(rt.value()));
  };
}

void add_runner_command(CLI::App& app) {
  struct Opts {
    std::string config_file;
    std::map<std::string, std::string> flags;
    std::vector<std::string> positional;  // Monk CI's form
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("runner", "Run a runner agent: register, heartbeat, claim and run jobs");
  cmd->add_option("--config", o->config_file, "YAML config file (settings as in docs/runner.md)");
  auto yes_no = [](const std::string& name) {
    return name == "RUNNER_OWNER_ONLY" || name == "DOCKER_READ_ONLY_ROOTFS" ||
           name == "RUNNER_ALLOW_LOCAL_REPOS";
  };
  for (const auto& name : runner_setting_names()) {
    if (name == "RUNNER_GIT_TOKEN" || name == "DOCKER_HOST") continue;  // environment only / below
    std::string flag = "--" + setting_flag_name(name);
    if (name == "RUNNER_DRAIN_TIMEOUT_S") flag += ",--drain-timeout";
    auto* option = cmd->add_option_function<std::string>(
        flag,
        [o, name, yes_no](const std::string& v) {
          o->flags[name] = v.empty() && yes_no(name) ? "true" : v;
        },
        "(" + name + ")");
    // A yes/no setting works as a bare flag too: `--owner-only`.
    if (yes_no(name)) option->expected(0, 1);
  }
  cmd->add_option_function<std::string>(
      "--docker-host", [o](const std::string& v) { o->flags["DOCKER_HOST"] = v; }, "(DOCKER_HOST)");
  cmd->add_option("arguments", o->positional,
                  "Monk CI's form: server URL, registration token, name, then optionally a "
                  "description and labels (words or comma lists); they count as flags")
      ->type_name("API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]");
  cmd->callback([o] {
    if (auto added = add_positional_settings(o->positional, o->flags); !added.ok()) {
      std::cerr << "corral runner: " << added.error().message << "\n";
      throw CLI::RuntimeError(2);
    }
    std::map<std::string, std::string> file;
    if (!o->config_file.empty()) {
      auto read = read_runner_config_file(o->config_file);
      if (!read.ok()) {
        std::cerr << "corral runner: " << read.error().message << "\n";
        throw CLI::RuntimeError(2);
      }
      file = *read;
    }
    auto config = build_runner_config(file, runner_settings_from_environment(), o->flags);
    if (!config.ok()) {
      std::cerr << "corral runner: " << config.error().message << "\n";
      throw CLI::RuntimeError(2);
    }
    int code = 0;
    std::optional<RestartPlan> restart;
    {
      Agent agent(*config, runtime_factory(*config));
      code = agent.run(true);
      restart = agent.restart_plan();
    }  // the agent's sockets and threads are gone before another program takes the process
    if (restart) {
      auto failed = exec_restart(*restart);  // returns only on failure
      std::cerr << "corral runner: " << failed.message << "\n";
      throw CLI::RuntimeError(1);
    }
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace corral::cli

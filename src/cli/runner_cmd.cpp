// `corral runner`: the agent. Settings from --config (YAML), then --env-file (.env), then the
// environment, then flags. Monk CI's form `corral runner API_URL REGISTRATION_TOKEN NAME
// [DESCRIPTION] [LABELS...]` works too: its arguments count as flags
// (runner/setting_aliases.h). `corral runner setup` asks for the settings and writes the
// file (runner/setup_wizard.h); a `corral runner` in a terminal without them offers it.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "runner/agent.h"
#include "runner/env_file.h"
#include "runner/setting_aliases.h"
#include "runner/setup_wizard.h"
#include "runtime/docker/docker_runtime.h"
#include "runtime/shell/shell_runtime.h"

namespace corral::cli {

RuntimeFactory runtime_factory(const RunnerConfig& config) {
  return [config](const asio::any_io_executor& ex) -> Result<std::unique_ptr<ContainerRuntime>> {
    if (config.executor == "shell")
      return std::unique_ptr<ContainerRuntime>(std::make_unique<ShellRuntime>(ex));
    DockerConfig docker;
    docker.host = config.docker_host;
    auto rt = DockerRuntime::open(ex, docker);
    if (!rt.ok()) return rt.error();
    return std::unique_ptr<ContainerRuntime>(std::move(rt.value()));
  };
}

namespace {

struct RunnerOpts {
  std::string config_file;
  std::string env_file;
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;  // Monk CI's form
  size_t arguments_before_setup = 0;    // a "setup" after an argument is Monk CI's NAME
};

[[noreturn]] void runner_exit(const std::string& message, int code = 2) {
  std::cerr << "corral runner: " << message << "\n";
  throw CLI::RuntimeError(code);
}

// The settings below the flags: the config file's, and the environment's over the env file's.
struct RunnerLayers {
  std::map<std::string, std::string> file;
  std::map<std::string, std::string> env;
};

// read_files false: the environment alone (the setup reads its target itself, which may
// not exist yet).
RunnerLayers load_runner_layers(const RunnerOpts& o, bool read_files = true) {
  RunnerLayers layers;
  if (read_files && !o.config_file.empty()) {
    auto read = read_runner_config_file(o.config_file);
    if (!read.ok()) runner_exit(read.error().message);
    layers.file = *read;
  }
  std::map<std::string, std::string> environment;
  if (read_files && !o.env_file.empty()) {
    auto read = read_env_file(o.env_file);
    if (!read.ok()) runner_exit(read.error().message);
    environment = *read;
  }
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (auto eq = entry.find('='); eq != std::string_view::npos)
      environment[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  layers.env = runner_settings_from(environment);
  return layers;
}

SetupTarget setup_target(const RunnerOpts& o) {
  if (!o.config_file.empty()) return {o.config_file, SetupFileFormat::kYaml};
  return {o.env_file.empty() ? ".env" : o.env_file, SetupFileFormat::kEnv};
}

// Runs the setup on the terminal (or whatever stdin is); exits 2 when it did not finish.
void run_runner_setup(const RunnerOpts& o, const RunnerLayers& layers) {
  SetupOptions options;
  options.target = setup_target(o);
  for (const auto* layer : {&layers.file, &layers.env, &o.flags}) {
    for (const auto& [name, value] : *layer) options.known[name] = value;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  options.default_name = host;
  options.hide_token_input = isatty(STDIN_FILENO) != 0;
  auto written = run_setup(std::cin, std::cout, options);
  if (!written.ok()) runner_exit(written.error().message);
}

// In a terminal: "Missing: ...; Run the setup now? [Y/n]". True when the answer is yes.
bool offer_runner_setup(const std::vector<std::string>& missing) {
  std::cout << "Missing:";
  for (size_t i = 0; i < missing.size(); ++i) std::cout << (i ? ", " : " ") << missing[i];
  std::cout << ".\nRun the setup now? [Y/n] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer.empty() || answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

void add_runner_command(CLI::App& app) {
  auto o = std::make_shared<RunnerOpts>();
  auto* cmd =
      app.add_subcommand("runner", "Run a runner agent: register, heartbeat, claim and run jobs");
  cmd->add_option("--config", o->config_file, "YAML config file (settings as in docs/runner.md)");
  cmd->add_option("--env-file", o->env_file,
                  "A .env file of settings (NAME=value lines), under the environment's");
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
  auto* arguments =
      cmd->add_option("arguments", o->positional,
                      "Monk CI's form: server URL, registration token, name, then optionally a "
                      "description and labels (words or comma lists); they count as flags")
          ->type_name("API_URL REGISTRATION_TOKEN NAME [DESCRIPTION] [LABELS...]");

  auto* setup = cmd->add_subcommand(
      "setup",
      "Ask for the runner's settings, check them by registering, and write them: YAML with "
      "--config FILE, else a .env file (--env-file FILE, default ./.env)");
  setup->fallthrough();  // --config, --env-file and the setting flags are the runner's
  // CLI11 takes "setup" for this subcommand wherever it stands; after an argument it is Monk
  // CI's NAME (or a later argument): note how many came first to put it back in its place.
  setup->preparse_callback(
      [o, arguments](size_t) { o->arguments_before_setup = arguments->count(); });

  cmd->callback([o, setup] {
    if (setup->parsed() && o->arguments_before_setup == 0) {
      if (!o->positional.empty()) {
        runner_exit(
            "`corral runner setup` takes no arguments, only --config FILE or --env-file FILE");
      }
      if (!o->config_file.empty() && !o->env_file.empty()) {
        runner_exit("give `corral runner setup` --config FILE (YAML) or --env-file FILE, not both");
      }
      run_runner_setup(*o, load_runner_layers(*o, false));
      return;
    }
    if (setup->parsed()) {
      o->positional.insert(
          o->positional.begin() + static_cast<std::ptrdiff_t>(o->arguments_before_setup), "setup");
    }
    if (auto added = add_positional_settings(o->positional, o->flags); !added.ok()) {
      runner_exit(added.error().message);
    }
    RunnerLayers layers = load_runner_layers(*o);
    auto missing = missing_runner_settings(layers.file, layers.env, o->flags);
    if (!missing.empty() && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) &&
        offer_runner_setup(missing)) {
      run_runner_setup(*o, layers);
      // Go on with what the setup wrote.
      if (o->config_file.empty()) o->env_file = setup_target(*o).path.string();
      layers = load_runner_layers(*o);
      std::cout << "\nStarting the runner.\n" << std::flush;
    }
    auto config = build_runner_config(layers.file, layers.env, o->flags);
    if (!config.ok()) {
      std::string message = config.error().message;
      if (!missing_runner_settings(layers.file, layers.env, o->flags).empty()) {
        // One per line, then how to give them.
        std::string lines;
        for (char c : message) lines += c == '\n' ? std::string("\n  ") : std::string(1, c);
        message = "missing settings:\n  " + lines +
                  "\nSet them in the environment, as flags, in a YAML file (--config FILE) or a "
                  ".env file (--env-file FILE); `corral runner setup` asks for them and writes "
                  "the file (docs/runner.md, \"Setup wizard\").";
      }
      runner_exit(message);
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

// corral: one binary, several roles (server, runner, dev) and the CLI verbs.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{"corral: run CI jobs, code reviews and analyses on machines you control"};
  app.set_version_flag("--version", corral::build_version());
  app.require_subcommand(1);
  app.fallthrough();
  corral::cli::add_server_command(app);
  corral::cli::add_runner_command(app);
  corral::cli::add_dev_command(app);
  corral::cli::add_client_commands(app);
  corral::cli::add_schedule_commands(app);
  corral::cli::add_repo_commands(app);
  corral::cli::add_tenant_commands(app);
  corral::cli::add_agent_commands(app);
  corral::cli::add_workflow_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Not expected: every command reports its own errors. Said plainly, not by std::terminate.
    std::cerr << "corral: internal error: " << e.what() << "\n";
    return 70;  // EX_SOFTWARE
  }
  return 0;
}

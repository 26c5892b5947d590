// The `corral` command line: one function per verb group, wired up in main.cpp.
#pragma once

#include <CLI/CLI.hpp>

namespace corral::cli {

void add_server_command(CLI::App& app);
void add_runner_command(CLI::App& app);
void add_dev_command(CLI::App& app);
// submit, jobs, job, cancel, logs, runners, queue, tokens
void add_client_commands(CLI::App& app);
// schedules, schedule create|show|delete|pause|resume
void add_schedule_commands(CLI::App& app);
// repos, repos set|rm, settings
void add_repo_commands(CLI::App& app);
// tenant: the tenant's settings (admin)
void add_tenant_commands(CLI::App& app);
// review, analyze, resolve: agent tasks (api/agent_tasks.h)
void add_agent_commands(CLI::App& app);
// workflow run|runs|show|cancel|rerun-failed (docs/workflows.md)
void add_workflow_commands(CLI::App& app);

}  // namespace corral::cli

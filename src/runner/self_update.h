// A runner replacing its own binary with the one the server offers (docs/runner.md, Remote
// control), and restarting in place.
//
// The update, step by step:
//   1. stage_update: the downloaded bytes must have the sha256 the command named; they are
//      written beside the running binary as <binary>.new, made executable, and must answer
//      `--version` with the version the command named (a binary that cannot even start on
//      this machine stops here, and nothing was replaced);
//   2. the runner drains (running jobs finish first), then install_update moves the running
//      binary to <binary>.previous, <binary>.new into its place, and writes the marker
//      <binary>.update (the command, both versions, a deadline);
//   3. the runner execs the new binary with the same arguments (same pid: systemd and
//      shells see one process throughout);
//   4. the new binary, at start (check_pending_update), counts itself in the marker; once
//      it has registered with the server it removes the marker (confirm_update) and reports
//      the command succeeded. If it has not registered by the deadline, or the marker shows
//      it started before without confirming (it crashed and was restarted, by systemd say),
//      the previous binary is moved back and exec'd, and reports the command failed.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace corral {

// What replaces this process: the binary, its arguments (argv[0] first), and variables
// added to the environment.
struct RestartPlan {
  std::filesystem::path binary;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
};

// Set in the environment of the process a restart or update starts: the command to report
// on once registered, and (after a rollback) why the update failed.
inline constexpr const char* kRestartCommandEnv = "CORRAL_RUNNER_COMMAND";
inline constexpr const char* kUpdateFailedEnv = "CORRAL_RUNNER_UPDATE_FAILED";

// The running executable (/proc/self/exe) and the arguments it was started with.
Result<std::filesystem::path> own_binary();
std::vector<std::string> own_arguments();

// What the marker beside the binary says.
struct PendingUpdate {
  std::string command_id;
  std::string from_version;
  std::string to_version;
  TimeMs deadline_ms = 0;
  int starts = 0;  // how often the new binary started without confirming
};

// Step 1. Returns the path of the staged binary (<binary>.new).
Result<std::filesystem::path> stage_update(const std::filesystem::path& binary,
                                           std::string_view bytes, const std::string& sha256,
                                           const std::string& version);
// Step 2.
Result<void> install_update(const std::filesystem::path& binary, const PendingUpdate& update);

// Step 4, at start. Without a marker: nothing (nullopt). With one: either the update stands
// on probation (the marker, its start counted) or it is rolled back now (`rollback` set:
// exec it; the previous binary is in place again and the marker gone).
struct UpdateCheck {
  std::optional<PendingUpdate> pending;
  std::optional<RestartPlan> rollback;
};
Result<UpdateCheck> check_pending_update(const std::filesystem::path& binary, TimeMs now);
// The new binary registered: the update stands.
void confirm_update(const std::filesystem::path& binary);
// Puts the previous binary back (the new one failed its deadline) and says how to start it.
Result<RestartPlan> roll_back_update(const std::filesystem::path& binary,
                                     const PendingUpdate& update, const std::string& why);

// Replaces this process (execve). Returns only on failure. Every descriptor above stderr is
// closed in the new program.
Error exec_restart(const RestartPlan& plan);

}  // namespace corral

// Child processes: the one place corral calls posix_spawn.
//
// Every child leads a process group of its own (so a kill reaches what it started too), reads
// /dev/null, writes stdout and stderr into one pipe, starts with an empty signal mask and the
// default handling of the signals a runner may ignore (SIGPIPE, ...), and gets the caller's
// environment with the given variables added or replaced.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

namespace corral {

struct SpawnOptions {
  std::map<std::string, std::string> env;  // added to, or replacing, the caller's environment
  std::filesystem::path cwd;               // empty: the caller's
  int output_fd = -1;                      // stdout and stderr; -1: /dev/null
};

// Starts argv[0] (looked up in PATH) as the leader of a new process group. Returns 0 and sets
// *pid, or the errno posix_spawnp reported (ENOENT: no such program, EACCES: not executable).
// The caller reaps the child.
int spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options, pid_t* pid);

// The exit code a shell would report for a waitpid status: the exit status, or 128 + the
// signal that ended the process.
int exit_code_of_wait_status(int wait_status);

// Lets another thread end the commands run_process runs: kill() sends SIGKILL to the command
// running now and its whole process group, and every later command given this killer fails at
// once. Thread-safe.
class CommandKiller {
 public:
  void kill();
  bool killed() const;
  // For run_process: the group of the command now running (false: already killed, and the
  // group has been killed), and its end (called before the process is reaped, so the id
  // cannot have been reused when kill() reaches it).
  bool attach(pid_t group);
  void detach();

 private:
  mutable std::mutex mutex_;
  pid_t group_ = 0;
  bool killed_ = false;
};

// Output of a command run to completion.
struct CommandOutput {
  int exit_code = -1;      // 128 + signal when a signal ended it
  std::string output;      // stdout and stderr together, the first max_output bytes
  bool timed_out = false;  // killed (SIGKILL to its group) when the timeout passed
};

struct RunOptions {
  std::map<std::string, std::string> env;  // as SpawnOptions::env
  std::filesystem::path cwd;
  std::chrono::milliseconds timeout{0};  // 0: none
  CommandKiller* killer = nullptr;       // another thread's way to end it early
  size_t max_output = 1 << 20;
};

// Runs argv (no shell) to completion; blocks. The command's end is its exit and the end of its
// output (what it started may hold the pipe open). Fails (kIo) when it cannot start, naming
// the program; a command that ran, however it ended, is a CommandOutput.
Result<CommandOutput> run_process(const std::vector<std::string>& argv,
                                  const RunOptions& options = {});

}  // namespace corral

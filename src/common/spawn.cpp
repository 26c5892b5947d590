#include "common/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

extern char** environ;

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace corral {

namespace {

// Closes its file descriptor unless released.
class SpawnFd {
 public:
  SpawnFd() = default;
  explicit SpawnFd(int fd) : fd_(fd) {}
  SpawnFd(const SpawnFd&) = delete;
  SpawnFd& operator=(const SpawnFd&) = delete;
  ~SpawnFd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// "KEY=value" strings: the caller's environment with `overrides` added or replaced.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : overrides) env[key] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> c_string_array(std::vector<std::string>& items) {
  std::vector<char*> out;
  out.reserve(items.size() + 1);
  for (auto& item : items) out.push_back(item.data());
  out.push_back(nullptr);
  return out;
}

// Whether pid has exited, without reaping it.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid != 0;
}

// Milliseconds from now until `deadline`, for poll(): -1 without one, at least 0.
int poll_timeout_ms(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) return -1;
  auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, std::numeric_limits<int>::max()));
}

}  // namespace

int exit_code_of_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

int spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options, pid_t* pid) {
  if (argv.empty() || argv[0].empty()) return ENOENT;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (options.output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, options.output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, options.output_fd, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  // The runner may ignore some signals (SIGPIPE, typically); the child must not inherit that.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM,
                  SIGTSTP, SIGTTIN, SIGTTOU}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<std::string> args = argv;
  std::vector<std::string> env = environment_with(options.env);
  auto c_argv = c_string_array(args);
  auto c_env = c_string_array(env);
  int err = posix_spawnp(pid, c_argv[0], &actions, &attr, c_argv.data(), c_env.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return err;
}

void CommandKiller::kill() {
  std::lock_guard lock(mutex_);
  killed_ = true;
  if (group_ > 0) ::kill(-group_, SIGKILL);
}

bool CommandKiller::killed() const {
  std::lock_guard lock(mutex_);
  return killed_;
}

bool CommandKiller::attach(pid_t group) {
  std::lock_guard lock(mutex_);
  group_ = group;
  if (killed_) ::kill(-group_, SIGKILL);
  return !killed_;
}

void CommandKiller::detach() {
  std::lock_guard lock(mutex_);
  group_ = 0;
}

Result<CommandOutput> run_process(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return make_error(ErrorCode::kInvalidSpec, "no command to run (an empty argv)");
  }
  if (options.killer && options.killer->killed()) {
    return make_error(ErrorCode::kIo, "killed before " + argv[0] + " ran");
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return make_error(ErrorCode::kIo, std::string("cannot make a pipe for the output of ") +
                                          argv[0] + ": " + std::strerror(errno));
  }
  SpawnFd read_end(pipe_fds[0]);
  SpawnFd write_end(pipe_fds[1]);
  pid_t pid = -1;
  int err = spawn_process(argv, {options.env, options.cwd, write_end.get()}, &pid);
  write_end.reset();  // ours; the output ends when the command's processes have closed theirs
  if (err != 0) {
    std::string where = options.cwd.empty() ? "" : " in " + options.cwd.string();
    std::string hint = err == ENOENT ? " (is it installed and on PATH, and does the directory "
                                       "exist?)"
                                     : "";
    return make_error(ErrorCode::kIo,
                      "cannot run " + argv[0] + where + ": " + std::strerror(err) + hint);
  }
  if (options.killer) options.killer->attach(pid);

  // The exit is noticed through a pidfd (Linux 5.3+), else by polling without reaping.
  SpawnFd exit_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  auto deadline = options.timeout.count() > 0 ? std::chrono::steady_clock::now() + options.timeout
                                              : std::chrono::steady_clock::time_point::max();
  CommandOutput out;
  bool output_open = true;
  bool exited = false;
  std::chrono::milliseconds exit_poll_delay{1};
  char buffer[16 * 1024];
  while (output_open || !exited) {
    pollfd fds[2];
    nfds_t count = 0;
    if (output_open) fds[count++] = {read_end.get(), POLLIN, 0};
    int exit_index = -1;
    if (!exited && exit_fd.get() >= 0) {
      exit_index = static_cast<int>(count);
      fds[count++] = {exit_fd.get(), POLLIN, 0};
    }
    int wait_ms = poll_timeout_ms(deadline);
    if (!exited && exit_fd.get() < 0) {
      int delay = static_cast<int>(exit_poll_delay.count());
      wait_ms = wait_ms < 0 ? delay : std::min(wait_ms, delay);
      exit_poll_delay = std::min(exit_poll_delay * 2, std::chrono::milliseconds(100));
    }
    int ready = ::poll(fds, count, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (output_open && ready > 0 && fds[0].revents != 0) {
      ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
      if (n > 0) {
        size_t room = options.max_output - std::min(options.max_output, out.output.size());
        out.output.append(buffer, std::min(room, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        output_open = false;
      }
    }
    if (!exited) {
      exited = exit_index >= 0 ? (ready > 0 && fds[exit_index].revents != 0) || has_exited(pid)
                               : has_exited(pid);
    }
    if ((output_open || !exited) && std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);  // the leader is not reaped yet, so the group id is still its
      out.timed_out = true;
      break;
    }
  }
  if (options.killer) {
    // Wait for the exit without reaping, so the group id stays ours until detached.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR) {
    }
    options.killer->detach();
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_code = exit_code_of_wait_status(status);
  return out;
}

}  // namespace corral

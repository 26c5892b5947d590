#include "runtime/shell/shell_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/crypto.h"
#include "common/spawn.h"
#include "net/event.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace corral {

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Owns a file descriptor until released.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

struct ShellRuntime::Process {
  enum class State { kCreated, kRunning, kExited };

  ContainerSpec spec;
  std::string host_dir;
  State state = State::kCreated;
  bool stopped_before_start = false;
  bool streaming = false;  // a run() is reading its output
  pid_t pid = -1;          // also its process group id
  bool reaped = false;     // pid may have been reused: never signal it again
  ExitStatus status;
  Event exited;  // set once the leader has been reaped

  // Signals the whole process group, unless it is gone.
  void signal_group(int sig) const {
    if (pid > 0 && !reaped) ::kill(-pid, sig);
  }
  void record_exit(int wait_status) {
    reaped = true;
    status.exit_code = exit_code_of_wait_status(wait_status);
    state = State::kExited;
    exited.set();
  }
};

namespace {

using Process = ShellRuntime::Process;

// Reaps the group leader once it exits and kills what it left behind in its group.
awaitable<void> watch_exit(std::shared_ptr<Process> proc, int pidfd) {
  auto executor = co_await asio::this_coro::executor;
  if (pidfd >= 0) {
    asio::posix::stream_descriptor exit_fd(executor, pidfd);
    error_code ec;
    co_await exit_fd.async_wait(asio::posix::stream_descriptor::wait_read,
                                asio::redirect_error(use_awaitable, ec));
  } else {
    // No pidfd (kernel < 5.3): poll without reaping, backing off.
    std::chrono::milliseconds delay{1};
    siginfo_t info{};
    while (!proc->reaped) {
      info.si_pid = 0;
      if (::waitid(P_PID, static_cast<id_t>(proc->pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid != 0) {
        break;
      }
      co_await async_sleep(delay);
      delay = std::min(delay * 2, std::chrono::milliseconds(100));
    }
  }
  if (proc->reaped) co_return;
  // The leader is a zombie, so its pid (= the group id) cannot have been reused yet.
  proc->signal_group(SIGKILL);
  int wait_status = 0;
  pid_t r;
  do {
    r = ::waitpid(proc->pid, &wait_status, 0);
  } while (r < 0 && errno == EINTR);
  proc->record_exit(r == proc->pid ? wait_status : (127 << 8));
}

}  // namespace

Result<std::string> host_path_for(const std::vector<std::string>& binds,
                                  const std::string& container_path) {
  namespace fs = std::filesystem;
  fs::path wanted = fs::path(container_path).lexically_normal();
  std::string best_host;
  size_t best_len = 0;
  bool found = false;
  for (const auto& bind : binds) {
    auto first = bind.find(':');
    if (first == std::string::npos) continue;
    auto second = bind.find(':', first + 1);
    fs::path host = bind.substr(0, first);
    fs::path container =
        fs::path(bind.substr(first + 1,
                             second == std::string::npos ? std::string::npos : second - first - 1))
            .lexically_normal();
    fs::path rel = wanted.lexically_relative(container);
    if (rel.empty() || *rel.begin() == "..") continue;
    std::string container_str = container.string();
    if (!found || container_str.size() > best_len) {
      found = true;
      best_len = container_str.size();
      best_host = rel == "." ? host.string() : (host / rel).string();
    }
  }
  if (!found) {
    return make_error(ErrorCode::kInvalidSpec,
                      "the shell executor has no host directory for working_dir '" +
                          container_path + "'; bind the workspace, e.g. /srv/ws:" + container_path);
  }
  return best_host;
}

ShellRuntime::ShellRuntime(asio::any_io_executor executor) : executor_(std::move(executor)) {}

ShellRuntime::~ShellRuntime() {
  for (auto& [id, proc] : processes_) {
    if (proc->state != Process::State::kRunning || proc->reaped) continue;
    proc->signal_group(SIGKILL);
    int wait_status = 0;
    if (::waitpid(proc->pid, &wait_status, 0) == proc->pid) proc->record_exit(wait_status);
    proc->reaped = true;
  }
}

RuntimeCapabilities ShellRuntime::capabilities() const {
  return RuntimeCapabilities{};
}

awaitable<Result<RuntimeInfo>> ShellRuntime::info() {
  RuntimeInfo info;
  info.name = "shell";
  struct utsname u {};
  if (::uname(&u) == 0) {
    info.version = u.release;
    info.os = u.sysname;
    std::transform(info.os.begin(), info.os.end(), info.os.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    info.arch = u.machine;
    if (info.arch == "x86_64") info.arch = "amd64";
    if (info.arch == "aarch64") info.arch = "arm64";
  }
  co_return info;
}

awaitable<Result<void>> ShellRuntime::ensure_image(const std::string&, PullPolicy) {
  co_return ok_result();
}

awaitable<Result<std::string>> ShellRuntime::create(const ContainerSpec& spec) {
  if (spec.command.empty() && spec.entrypoint.empty()) {
    co_return make_error(ErrorCode::kInvalidSpec,
                         "the shell executor needs a command (there is no image to supply one)");
  }
  auto dir = host_path_for(spec.binds, spec.working_dir.empty() ? "/workspace" : spec.working_dir);
  if (!dir.ok()) co_return dir.error();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir.value(), ec)) {
    co_return make_error(ErrorCode::kInvalidSpec, "the shell executor's working directory " +
                                                      dir.value() +
                                                      " does not exist; create it before create()");
  }
  auto proc = std::make_shared<Process>();
  proc->spec = spec;
  proc->host_dir = dir.value();
  std::string id = new_id("shell");
  processes_[id] = std::move(proc);
  co_return id;
}

awaitable<Result<ExitStatus>> ShellRuntime::run(const std::string& id, OutputSink sink) {
  auto it = processes_.find(id);
  if (it == processes_.end()) {
    co_return make_error(ErrorCode::kNotFound, "no shell job " + id +
                                                   " (removed, or made by "
                                                   "another runner process)");
  }
  std::shared_ptr<Process> proc = it->second;
  if (proc->state == Process::State::kExited) co_return proc->status;
  if (proc->streaming) {
    co_return make_error(ErrorCode::kConflict, "shell job " + id + " is already being run");
  }
  if (proc->stopped_before_start) {
    proc->state = Process::State::kExited;
    proc->status = ExitStatus{128 + SIGKILL, false};
    co_return proc->status;
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    co_return make_error(ErrorCode::kIo,
                         "cannot make a pipe for the job's output: " + errno_text(errno));
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  std::vector<std::string> argv = proc->spec.entrypoint;
  argv.insert(argv.end(), proc->spec.command.begin(), proc->spec.command.end());
  pid_t pid = -1;
  int err = spawn_process(argv, {proc->spec.env, proc->host_dir, write_end.fd}, &pid);
  if (err != 0) {
    // What a shell does: report it on the job's output and exit 127 (126: not executable).
    proc->state = Process::State::kExited;
    proc->status = ExitStatus{err == ENOENT ? 127 : 126, false};
    if (sink)
      sink("corral: cannot run '" + argv[0] + "' in " + proc->host_dir + ": " + errno_text(err) +
           "\n");
    co_return proc->status;
  }
  write_end.reset();  // close our copy, so the pipe ends when the job's processes are gone
  proc->pid = pid;
  proc->state = Process::State::kRunning;
  proc->streaming = true;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  asio::co_spawn(executor_, watch_exit(proc, pidfd), asio::detached);

  asio::posix::stream_descriptor output(executor_, read_end.release());
  std::array<char, 16 * 1024> buffer;
  Error read_error;
  bool read_failed = false;
  for (;;) {
    error_code ec;
    size_t n = co_await output.async_read_some(asio::buffer(buffer),
                                               asio::redirect_error(use_awaitable, ec));
    if (n > 0 && sink) sink(std::string_view(buffer.data(), n));
    if (ec == asio::error::eof) break;
    if (ec) {
      read_failed = true;
      read_error = make_error(ErrorCode::kIo, "reading the job's output: " + ec.message());
      proc->signal_group(SIGKILL);
      break;
    }
  }
  // The output can end before the exit is noticed (or the job closed it and kept going).
  co_await proc->exited.wait();
  proc->streaming = false;
  if (read_failed) co_return read_error;
  co_return proc->status;
}

awaitable<Result<void>> ShellRuntime::stop(const std::string& id, std::chrono::seconds grace) {
  auto it = processes_.find(id);
  if (it == processes_.end()) co_return make_error(ErrorCode::kNotFound, "no shell job " + id);
  std::shared_ptr<Process> proc = it->second;
  if (proc->state == Process::State::kCreated) {
    proc->stopped_before_start = true;
    co_return ok_result();
  }
  if (proc->state == Process::State::kExited) co_return ok_result();
  proc->signal_group(SIGTERM);
  if (co_await proc->exited.wait_for(grace)) co_return ok_result();
  proc->signal_group(SIGKILL);
  co_await proc->exited.wait();
  co_return ok_result();
}

awaitable<Result<void>> ShellRuntime::kill(const std::string& id) {
  auto it = processes_.find(id);
  if (it == processes_.end()) co_return make_error(ErrorCode::kNotFound, "no shell job " + id);
  std::shared_ptr<Process> proc = it->second;
  if (proc->state == Process::State::kCreated) {
    proc->stopped_before_start = true;
    co_return ok_result();
  }
  proc->signal_group(SIGKILL);
  if (proc->state == Process::State::kRunning) co_await proc->exited.wait();
  co_return ok_result();
}

awaitable<Result<void>> ShellRuntime::remove(const std::string& id) {
  auto it = processes_.find(id);
  if (it == processes_.end()) co_return ok_result();
  // The exit watcher keeps the process record alive until it has reaped the leader.
  it->second->signal_group(SIGKILL);
  processes_.erase(it);
  co_return ok_result();
}

awaitable<Result<std::vector<ContainerSummary>>> ShellRuntime::list(
    const std::string& label_filter) {
  std::vector<ContainerSummary> out;
  for (const auto& [id, proc] : processes_) {
    if (!label_filter.empty() && !labels_match(proc->spec.labels, label_filter)) continue;
    ContainerSummary summary;
    summary.id = id;
    summary.labels = proc->spec.labels;
    switch (proc->state) {
      case Process::State::kCreated:
        summary.state = "created";
        break;
      case Process::State::kRunning:
        summary.state = "running";
        break;
      case Process::State::kExited:
        summary.state = "exited";
        break;
    }
    out.push_back(std::move(summary));
  }
  co_return out;
}

awaitable<Result<ExecResult>> ShellRuntime::exec(const std::string&, const ExecSpec&) {
  co_return make_error(ErrorCode::kInvalidSpec,
                       "the shell executor cannot exec into a job (capabilities().exec is false)");
}

}  // namespace corral

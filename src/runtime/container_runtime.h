// ContainerRuntime: what the runner needs from whatever executes a job's command. Modelled
// on Nomad's task-driver interface: create, run (start + stream + wait), stop with a grace
// period, kill, remove, list by label (to find and recover work after a restart), exec.
//
// Implementations:
//   DockerRuntime  (runtime/docker/)  Docker Engine API over DOCKER_HOST; also Podman's
//                                     compatible service. Isolated, limits enforced.
//   ShellRuntime   (runtime/shell/)   runs the command directly on the host. Isolates nothing.
//   ScriptedRuntime (runtime/fake/)   the fake for unit tests: scripted output and exits.
//                                     Built into corral_testing, not into the binary.
//
// Lifecycle of one job container:
//
//   create(spec) --> id --> run(id, sink) ....... output ....... --> ExitStatus
//                                 ^                                     |
//        stop(id, grace) / kill(id) from another coroutine              v
//        makes run() return promptly with the real exit status    remove(id)
//
// A container kept warm for a job not yet known (the runner's warm pool, runner/warm_pool.h):
//
//   create(spec with open_stdin) --> start_held(id) ... waits on stdin ...
//     --> run_with_input(id, input, sink): input to stdin, stdin closed, then as run()
//
// All methods are coroutines for one executor: call them from coroutines running on the
// executor the runtime was made with (one thread, or a strand). stop() and kill() may run
// while run() is in progress for the same container.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "net/asio.h"

namespace corral {

// When to pull a job's image (GitLab Runner's pull_policy, Kubernetes' imagePullPolicy).
enum class PullPolicy {
  kIfNotPresent,  // "if-not-present" (default): pull only when the engine lacks the image
  kAlways,        // "always": pull every time, so a moved tag is picked up
  kNever,         // "never": use only local images; a missing one is an image_pull error
};

// Parses "if-not-present", "always" or "never" (also "IfNotPresent", "Always", "Never");
// an empty string is the default, if-not-present.
Result<PullPolicy> parse_pull_policy(std::string_view text);
std::string_view pull_policy_name(PullPolicy policy);

struct ContainerSpec {
  std::string image;
  std::vector<std::string> command;     // the image's CMD when empty
  std::vector<std::string> entrypoint;  // the image's ENTRYPOINT when empty
  std::map<std::string, std::string> env;
  std::string working_dir = "/workspace";
  std::vector<std::string> binds;             // "host:container[:ro]"
  int64_t memory_bytes = 0;                   // 0 = unlimited; swap is never allowed on top
  double cpus = 0;                            // 0 = unlimited; 1.5 = one and a half cores
  int64_t pids_limit = 1024;                  // 0 = unlimited
  std::string network_mode;                   // "" = engine default; "none", "bridge", "host", ...
  std::map<std::string, std::string> labels;  // corral.runner, corral.job, corral.attempt
  std::string name;                           // "" = the engine picks one
  bool cap_drop_all = true;
  bool no_new_privileges = true;
  std::string user;               // "" = the image's user; "uid[:gid]" or a name known to the image
  bool read_only_rootfs = false;  // the root filesystem read-only (binds and tmpfs stay writable)
  std::vector<std::string> tmpfs;  // paths to mount a fresh tmpfs on, e.g. "/tmp"
  // Keep stdin open for start_held() and run_with_input() (the engine's OpenStdin and
  // StdinOnce: the container's stdin ends when the runner closes it or its connection drops).
  bool open_stdin = false;
};

struct ExitStatus {
  int exit_code = -1;  // a signal N shows as 128 + N, as in a shell
  bool oom_killed = false;
};

struct RuntimeInfo {
  std::string name;         // e.g. "Podman Engine", "Docker Engine", "shell"
  std::string version;      // engine (or kernel, for shell) version
  std::string api_version;  // e.g. "1.41"; empty for shell
  std::string os;
  std::string arch;
};

// What an implementation really does; the runner reports these to the server and refuses
// specs that need a capability the runtime lacks, rather than pretending.
struct RuntimeCapabilities {
  bool isolation = false;        // own filesystem, users, processes
  bool resource_limits = false;  // memory_bytes, cpus, pids_limit are enforced
  bool network_modes = false;    // network_mode is honoured
  bool images = false;           // ensure_image pulls; spec.image is used
  bool exec = false;             // exec() works
  bool held_start = false;       // start_held(), held() and run_with_input() work
};

struct ContainerSummary {
  std::string id;
  std::map<std::string, std::string> labels;
  std::string state;  // "created", "running", "exited", ... as the engine says
};

// Called with each piece of output as it arrives, stdout and stderr interleaved. Pieces are
// raw bytes: a line, or a UTF-8 sequence, may be split across calls.
//
// Order: each stream's bytes arrive in order. A container engine reads stdout and stderr
// from two pipes, so writes to both within a moment of each other may arrive in either
// order (as in `docker logs`); a job that needs one exact order joins the streams itself
// (`exec 2>&1` at the top of its script). ShellRuntime uses one pipe: always exact.
using OutputSink = std::function<void(std::string_view)>;

struct ExecSpec {
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string working_dir;            // "" = the container's
  std::string user;                   // "" = the container's
  size_t max_output_bytes = 1 << 20;  // output beyond this is dropped; see truncated
  // When set, the output goes here as it arrives (see OutputSink above) and
  // ExecResult::output stays empty.
  OutputSink on_output;
};

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved, as they arrived
  bool truncated = false;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  virtual RuntimeCapabilities capabilities() const = 0;
  virtual awaitable<Result<RuntimeInfo>> info() = 0;
  // Whether the engine answers, as cheaply as it can tell (the runner's health check asks
  // before every heartbeat).
  virtual awaitable<Result<void>> ping() {
    auto answered = co_await info();
    if (!answered.ok()) co_return answered.error();
    co_return ok_result();
  }

  // Makes image available locally according to policy. Errors: kImagePull carrying the
  // engine's message (missing with kNever, registry refused, ...), kUnavailable.
  virtual awaitable<Result<void>> ensure_image(const std::string& image, PullPolicy policy) = 0;

  // Creates (does not start) a container; returns its id. A missing image is kImagePull.
  virtual awaitable<Result<std::string>> create(const ContainerSpec& spec) = 0;

  // Attaches to the container's output, starts it if this runtime created it and has not
  // started it yet, streams output to sink until the container's output ends, and returns
  // its exit status once it has exited. Given a container that is already running (say,
  // found with list() after a runner restart) it re-attaches without replaying earlier
  // output; given one that has already exited it returns that status at once.
  virtual awaitable<Result<ExitStatus>> run(const std::string& id, OutputSink sink) = 0;

  // Sends SIGTERM, then SIGKILL once grace has passed; returns when the container has
  // stopped. Stopping a container that is not running is not an error.
  virtual awaitable<Result<void>> stop(const std::string& id, std::chrono::seconds grace) = 0;
  // SIGKILL now. Killing a container that is not running is not an error.
  virtual awaitable<Result<void>> kill(const std::string& id) = 0;
  // Removes the container (forcibly, with its anonymous volumes). Unknown id = success.
  virtual awaitable<Result<void>> remove(const std::string& id) = 0;

  // Containers, in any state, carrying a label: "key=value" or just "key".
  virtual awaitable<Result<std::vector<ContainerSummary>>> list(
      const std::string& label_filter) = 0;

  // Runs a command inside a running container and collects its output and exit code.
  // Requires capabilities().exec.
  virtual awaitable<Result<ExecResult>> exec(const std::string& id, const ExecSpec& spec) = 0;

  // Starts a container created with spec.open_stdin, attached to its stdin and output, and
  // returns once it runs. Its output waits (none is lost) for run_with_input(). Requires
  // capabilities().held_start; the default implementation says it is not supported.
  virtual awaitable<Result<void>> start_held(const std::string& id);
  // True while a container started with start_held() keeps its connection to the engine.
  // No API call. False once the engine dropped it (an engine restart: the container's
  // stdin then ends too, and it exits), or for a container not started with start_held().
  virtual bool held(const std::string& id) const;
  // For a container started with start_held(): writes input to its stdin and closes it,
  // then streams output to sink and returns the exit status exactly as run() does. stop()
  // and kill() work as with run(). A container no longer held() is kUnavailable at once.
  virtual awaitable<Result<ExitStatus>> run_with_input(const std::string& id, std::string input,
                                                       OutputSink sink);
  // The image's ENTRYPOINT (empty when it has none), which a container made from it runs
  // with its command as arguments. The image must be present (ensure_image). The default
  // implementation, for runtimes without images, answers empty.
  virtual awaitable<Result<std::vector<std::string>>> image_entrypoint(const std::string& image);
};

// True when labels satisfy a list() filter ("key=value" or "key").
bool labels_match(const std::map<std::string, std::string>& labels, std::string_view filter);

}  // namespace corral

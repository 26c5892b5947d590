// WarmPool: DOCKER_POOL_SIZE containers of the runner's default image, started ahead of
// any job and waiting on stdin, so a matching job skips create, attach and start (the bulk
// of a cold start on Podman; docs/benchmarks.md, "Warm pool").
//
// One pool container, from birth to removal:
//
//   create (entrypoint /bin/sh, command -s, open_stdin; labels corral.runner=<id>,
//           corral.pool=true; <workspace>/.pool/<runner>/<n> bind-mounted at /workspace)
//     --> start_held: attached, running `sh -s`, reading stdin          [ready]
//     --> take(job spec): handed to ONE attempt, which clones into the slot directory and
//         writes the job's environment and command to stdin (pool_input); the attempt's
//         executor stops, kills and removes it exactly as a cold container
//     --> the pool makes a new one in the background
//
// A ready container whose engine connection dropped (an engine restart: its stdin ended
// and `sh -s` exited) is removed and replaced. At start the pool wipes its slot
// directories (the agent has already removed this runner's leftover containers, pool ones
// included); shutdown() removes every container it still holds.
//
// A job takes a pool container only when its container would look exactly like the pool's
// apart from the command, environment and labels: same image, limits (memory, cpus,
// pids), network mode, user, root filesystem and security settings (pool_serves). Any
// other job starts cold.
#pragma once

#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "net/event.h"
#include "runner/config.h"
#include "runtime/container_runtime.h"

namespace corral {

// The spec every pool container is created from, but for its slot bind (binds stays empty).
ContainerSpec pool_container_spec(const RunnerConfig& config, const std::string& runner_id);
// True when a job whose cold container would be `job` can run in a container made from
// `pool` instead: everything but the command, the environment and the labels is equal,
// the image's entrypoint is not overridden, and every environment name is one a shell can
// export.
bool pool_serves(const ContainerSpec& pool, const ContainerSpec& job);
// What a pool container's `sh -s` reads: exports of job.env, then an exec of the image's
// entrypoint followed by job.command (what a cold container from the image runs), with
// stdin from /dev/null (as a cold container, whose stdin is closed). Every value is
// single-quoted, so nothing in it is interpreted.
std::string pool_input(const ContainerSpec& job,
                       const std::vector<std::string>& image_entrypoint = {});

// A pooled attempt's container carries no job label (it was made before the job came), so
// after a crash Agent::remove_orphans cannot tell whose spool file is left. The attempt
// writes the spool file's path into "<slot>.spool", beside its slot directory (outside the
// job's /workspace), and removes it with the spool; a start removes what markers name.
void mark_spool(const std::filesystem::path& slot_dir, const std::filesystem::path& spool_file);
void unmark_spool(const std::filesystem::path& slot_dir);
// Removes the spool files the markers in slots_dir name (only those inside spool_dir) and
// the markers; returns how many spool files it removed. Blocks (file work).
int remove_marked_spools(const std::filesystem::path& slots_dir,
                         const std::filesystem::path& spool_dir);

struct PooledContainer {
  std::string id;
  std::filesystem::path workspace;            // the slot directory mounted at /workspace
  std::vector<std::string> image_entrypoint;  // for pool_input
};

class WarmPool {
 public:
  // blocking: where the slot directories are wiped (file work off the I/O thread).
  WarmPool(asio::any_io_executor executor, ContainerRuntime& runtime, asio::thread_pool& blocking,
           const RunnerConfig& config, std::string runner_id);

  // Fills and refills the pool until shutdown(); run it with co_spawn.
  awaitable<void> run();
  // Stops refilling and removes every container the pool still holds.
  awaitable<void> shutdown();

  // A ready container for a job whose cold container would be `job`, or nullopt (the job
  // starts cold). The container is the caller's from now on: it removes it, and the slot
  // directory, when the attempt ends.
  std::optional<PooledContainer> take(const ContainerSpec& job);

  // {"size": N, "ready": containers waiting now}, for the heartbeat's usage.
  nlohmann::json status() const;

 private:
  struct Slot {
    std::string id;
    std::filesystem::path dir;
    std::vector<std::string> image_entrypoint;  // of the image it was made from
  };
  awaitable<Result<Slot>> make_one();
  awaitable<void> remove_slot(Slot slot);
  void drop_lost();  // ready containers no longer held() go to lost_

  asio::any_io_executor executor_;
  ContainerRuntime& runtime_;
  asio::thread_pool& blocking_;
  const RunnerConfig& config_;
  std::string runner_id_;
  ContainerSpec template_;
  std::filesystem::path slots_dir_;
  int size_;
  int next_slot_ = 1;
  std::deque<Slot> ready_;
  std::vector<Slot> lost_;  // to remove (retried while the engine is away)
  bool stopping_ = false;
  Event changed_;  // a container taken, or shutdown
  Event stopped_;  // run() has returned
};

}  // namespace corral

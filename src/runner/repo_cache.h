// A runner's cache of git repositories: one bare mirror per (tenant, repository URL,
// credential). An attempt fetches into the mirror only what it lacks, then gets a
// self-contained copy of the mirror's objects in its own workspace and checks out there.
//
//   RUNNER_REPO_CACHE/                 default DOCKER_WORKSPACE_BASE/.repos
//   ├── locks/
//   │   └── <key>.lock                 flock'd (and a mutex in-process) while a mirror is
//   │                                  fetched into, copied from, rebuilt or removed
//   └── <key>/                         a bare repository; key = mirror_key(...)
//       ├── corral-mirror              written only after the first complete fetch; its
//       │                              mtime is the last use (least recently used go first)
//       ├── refs/corral/...            every sha and ref ever fetched, so none is pruned
//       └── objects/pack/              packs only (fetch.unpackLimit=1)
//
// Why a copy of the objects and not `git worktree add` or `git clone --shared`: a job's
// workspace is bind-mounted into its container, and both of those leave the workspace
// pointing at the mirror by a host path (a worktree's `.git` file names
// <mirror>/worktrees/<name>; a --shared clone's objects/info/alternates names
// <mirror>/objects). Git inside the container would then fail, unless the mirror were
// mounted into the container too: a writable mirror lets a job plant hooks or config that
// the runner's next fetch runs on the host, or rewrite objects later attempts check out
// (cache poisoning from a pull request into a trusted build), and even a read-only mount
// does not fit a warm container pool, whose containers exist before the repository is known.
// Hard links (plain `git clone --local`) share inodes a container user could chmod and
// rewrite, and open_workspace_to() changes their owner or mode. A copy of the packs costs
// ~1.5-2 ms per MB here (docs/benchmarks.md) and leaves a workspace that is an ordinary clone:
// no registration in the mirror to clean up (no `git worktree prune` needed), nothing the job
// can reach back through. A hit gives the full history, whatever depth the job asked for.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "runner/workspace.h"

namespace corral {

struct RepoCacheConfig {
  std::filesystem::path dir;  // RUNNER_REPO_CACHE
  int64_t max_bytes = 0;      // RUNNER_REPO_CACHE_MAX; 0 = no bound
};

// What RepoCache::checkout did.
struct RepoCacheOutcome {
  enum class Mirror { kHit, kFetched, kCreated, kRebuilt };
  Mirror mirror = Mirror::kHit;
  std::string key;            // the mirror's directory name
  std::string sha;            // what the workspace has checked out
  std::string damage;         // kRebuilt: what was wrong with the mirror
  int64_t fetched_bytes = 0;  // pack bytes the fetch added to the mirror
  int64_t copied_bytes = 0;   // object bytes copied into the workspace
  std::chrono::milliseconds fetch_time{0}, copy_time{0}, total_time{0};
  std::vector<std::string> evicted;  // mirrors removed afterwards to stay under the bound
  std::string transcript;            // git's own output (token scrubbed), usually empty

  // One line for the job's log and the runner's: "repo cache: ...".
  std::string summary() const;
  // "cache_hit", "cache_fetched", "cache_created" or "cache_rebuilt" (a metric label).
  std::string mirror_name() const;
};

class RepoCache {
 public:
  explicit RepoCache(RepoCacheConfig config);

  // Whether the cache can serve this repository: a sha (if any) of 40 or 64 hex digits and
  // a ref (if any) that is a plain ref name (no refspec syntax: ':', '+', '^', '*', ...).
  // Others are cloned as before (clone_repository).
  static bool can_serve(const RepoSpec& repo);

  // The mirror's name: who may share it (partition: the tenant), the URL, and the
  // credential (a hash of the token, or none). Never the token itself.
  static std::string mirror_key(const std::string& partition, const std::string& url,
                                const std::string& token);

  // Puts repo at its sha (else the tip of its ref, else the remote's HEAD) into dir, a
  // missing or empty directory, as a clone whose `origin` is repo.url. Fetches into the
  // mirror only what it lacks, under the mirror's lock; a mirror found damaged (a git error
  // from it, a missing object) is removed and rebuilt once. Every git protection of
  // clone_repository applies (options: transports, token, killer). Blocks. Errors are kClone.
  Result<RepoCacheOutcome> checkout(const RepoSpec& repo, const std::filesystem::path& dir,
                                    const CloneOptions& options, const std::string& partition);

  // Removes the least recently used mirrors that no one is using (not keep, not locked by
  // this process or another) until the cache holds at most max_bytes. Returns their keys.
  std::vector<std::string> enforce_bound(const std::string& keep = {});

  const RepoCacheConfig& config() const { return config_; }

  // The mirrors on disk now and their bytes (a walk of the cache directory; blocks).
  struct Usage {
    int mirrors = 0;
    int64_t bytes = 0;
  };
  Usage usage() const;

 private:
  class Lock;
  std::shared_ptr<std::mutex> mutex_for(const std::string& key);

  RepoCacheConfig config_;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> mutexes_;
};

}  // namespace corral

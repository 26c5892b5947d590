#include "runner/repo_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "common/crypto.h"
#include "common/redact.h"

namespace corral {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker = "corral-mirror";
constexpr size_t kRepackAbovePacks = 32;  // incremental fetches add a pack each

using Steady = std::chrono::steady_clock;

std::chrono::milliseconds since(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start);
}

bool is_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// git check-ref-format's rules, plus nothing that reads as refspec syntax.
bool plain_ref_name(const std::string& ref) {
  if (ref.empty() || ref.size() > 1024 || ref.front() == '-' || ref.front() == '/' ||
      ref.back() == '/' || ref.back() == '.')
    return false;
  if (ref.find("..") != std::string::npos || ref.find("@{") != std::string::npos ||
      ref.find("//") != std::string::npos || ref.find("/.") != std::string::npos || ref == "@" ||
      ref.front() == '.' || (ref.size() >= 5 && ref.compare(ref.size() - 5, 5, ".lock") == 0))
    return false;
  for (unsigned char c : ref) {
    if (c < 0x21 || c == 0x7f ||
        std::string_view(":+^~?*[\\").find(static_cast<char>(c)) != std::string_view::npos)
      return false;
  }
  return true;
}

// Where the mirror keeps what it fetched for a ref: refs/corral/<ref without refs/>, or
// refs/corral/short/<name> for a short name such as "main".
std::string mirror_ref_for(const std::string& ref) {
  if (ref == "HEAD") return "refs/corral/HEAD";
  if (ref.rfind("refs/", 0) == 0) return "refs/corral/" + ref.substr(5);
  return "refs/corral/short/" + ref;
}

struct PackStats {
  size_t count = 0;
  int64_t bytes = 0;
};

PackStats pack_stats(const fs::path& mirror) {
  PackStats stats;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(mirror / "objects" / "pack", ec)) {
    if (entry.path().extension() != ".pack") continue;
    ++stats.count;
    stats.bytes += static_cast<int64_t>(entry.file_size(ec));
  }
  return stats;
}

int64_t tree_bytes(const fs::path& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += static_cast<int64_t>(it->file_size(size_ec));
  }
  return total;
}

// Copies the mirror's objects (packs, and loose objects should there be any) into a
// workspace's .git/objects. Returns the bytes copied.
// Copies the mirror's objects into a workspace's objects directory: its loose objects and
// its packs, skipping the packs named in `done` and adding the ones it copies. Packs never
// change once written, so a pack copied before a fetch is still good after it. A copy, not
// a link: whatever the job does to its objects cannot reach the mirror.
Result<int64_t> copy_objects(const fs::path& from, const fs::path& to, std::set<std::string>& done,
                             bool packs_only = false) {
  int64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    std::string name = entry.path().filename().string();
    if (!packs_only && name.size() == 2 && is_hex(name) && entry.is_directory(ec)) {
      fs::copy(entry.path(), to / name,
               fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
      if (ec) break;
      bytes += tree_bytes(to / name);
    } else if (name == "pack") {
      fs::create_directories(to / "pack", ec);
      for (const auto& pack : fs::directory_iterator(entry.path(), ec)) {
        std::string file = pack.path().filename().string();
        std::string ext = pack.path().extension().string();
        if (file.rfind("pack-", 0) != 0 || (ext != ".pack" && ext != ".idx" && ext != ".rev") ||
            done.count(file))
          continue;
        fs::copy_file(pack.path(), to / "pack" / file, fs::copy_options::overwrite_existing, ec);
        if (ec) break;
        bytes += static_cast<int64_t>(pack.file_size(ec));
        done.insert(file);
      }
    }
    if (ec) break;
  }
  if (ec) return make_error(ErrorCode::kClone, "cannot copy the mirror's objects: " + ec.message());
  return bytes;
}

std::string human_bytes(int64_t bytes) {
  char text[32];
  if (bytes >= 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  } else {
    std::snprintf(text, sizeof text, "%.1f KB", static_cast<double>(bytes) / 1024.0);
  }
  return text;
}

}  // namespace

// The mirror's mutex in this process and an flock on its lock file (other processes sharing
// the cache directory); released together.
class RepoCache::Lock {
 public:
  static std::optional<Lock> take(RepoCache& cache, const std::string& key, bool wait) {
    Lock lock;
    lock.mutex_ = cache.mutex_for(key);
    lock.held_ = std::unique_lock(*lock.mutex_, std::defer_lock);
    if (wait) {
      lock.held_.lock();
    } else if (!lock.held_.try_lock()) {
      return std::nullopt;
    }
    std::error_code ec;
    fs::create_directories(cache.config_.dir / "locks", ec);
    auto path = cache.config_.dir / "locks" / (key + ".lock");
    lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.fd_ < 0) return std::nullopt;
    int rc;
    while ((rc = ::flock(lock.fd_, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR) {
    }
    if (rc != 0) return std::nullopt;
    return lock;
  }
  Lock(Lock&& other) noexcept
      : mutex_(std::move(other.mutex_)),
        held_(std::move(other.held_)),
        fd_(std::exchange(other.fd_, -1)) {}
  Lock& operator=(Lock&&) = delete;
  ~Lock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock, before the mutex
  }

 private:
  Lock() = default;
  std::shared_ptr<std::mutex> mutex_;
  std::unique_lock<std::mutex> held_;
  int fd_ = -1;
};

std::string RepoCacheOutcome::mirror_name() const {
  switch (mirror) {
    case Mirror::kHit:
      return "cache_hit";
    case Mirror::kFetched:
      return "cache_fetched";
    case Mirror::kCreated:
      return "cache_created";
    case Mirror::kRebuilt:
      return "cache_rebuilt";
  }
  return "cache";
}

std::string RepoCacheOutcome::summary() const {
  std::string line = "repo cache: ";
  switch (mirror) {
    case Mirror::kHit:
      line += "mirror " + key + " already had " + sha.substr(0, 12) + ", nothing fetched";
      break;
    case Mirror::kFetched:
      line += "fetched " + human_bytes(fetched_bytes) + " into mirror " + key + " in " +
              std::to_string(fetch_time.count()) + " ms";
      break;
    case Mirror::kCreated:
      line += "new mirror " + key + ": fetched " + human_bytes(fetched_bytes) + " in " +
              std::to_string(fetch_time.count()) + " ms";
      break;
    case Mirror::kRebuilt:
      line += "mirror " + key + " was damaged (" + damage + "); rebuilt it: fetched " +
              human_bytes(fetched_bytes) + " in " + std::to_string(fetch_time.count()) + " ms";
      break;
  }
  line += "; copied " + human_bytes(copied_bytes) + " of objects into the workspace in " +
          std::to_string(copy_time.count()) + " ms; checked out " + sha.substr(0, 12) + " in " +
          std::to_string(total_time.count()) + " ms in all";
  if (!evicted.empty())
    line += "; removed " + std::to_string(evicted.size()) + " least recently used mirror(s)";
  return line;
}

RepoCache::RepoCache(RepoCacheConfig config) : config_(std::move(config)) {}

bool RepoCache::can_serve(const RepoSpec& repo) {
  if (repo.url.empty()) return false;
  if (!repo.sha.empty() && !((repo.sha.size() == 40 || repo.sha.size() == 64) && is_hex(repo.sha)))
    return false;
  return repo.ref.empty() || plain_ref_name(repo.ref);
}

std::string RepoCache::mirror_key(const std::string& partition, const std::string& url,
                                  const std::string& token) {
  std::string credential = token.empty() ? "none" : "token:" + sha256_hex(token);
  return sha256_hex(partition + '\0' + url + '\0' + credential).substr(0, 24);
}

std::shared_ptr<std::mutex> RepoCache::mutex_for(const std::string& key) {
  std::lock_guard lock(mutexes_mutex_);
  auto& mutex = mutexes_[key];
  if (!mutex) mutex = std::make_shared<std::mutex>();
  return mutex;
}

namespace {

// Runs git for one checkout: the clone protections of git_invocation, the token scrubbed
// from what it says, and the mirror's own settings (nothing left loose, no background gc
// that could prune, no hooks, no reflogs).
class GitRunner {
 public:
  explicit GitRunner(const CloneOptions& options)
      : options_(options), git_(git_invocation(options)) {
    git_.argv.insert(
        git_.argv.end(),
        {"-c", "core.hooksPath=/dev/null", "-c", "fetch.unpackLimit=1", "-c", "gc.auto=0", "-c",
         "maintenance.auto=false", "-c", "core.logAllRefUpdates=false", "-c",
         "fetch.writeCommitGraph=false", "-c", "fetch.showForcedUpdates=false"});
  }
  bool killed() const { return options_.killer && options_.killer->killed(); }
  Result<std::string> run(const fs::path& cwd, std::vector<std::string> args) {
    std::vector<std::string> argv = git_.argv;
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = run_command(argv, git_.env, cwd, options_.killer);
    if (killed()) return make_error(ErrorCode::kClone, "git was killed");
    if (!out.ok()) return make_error(ErrorCode::kClone, out.error().message);
    std::string text = scrub_secret(out->output, options_.token);
    if (out->exit_code != 0) {
      return make_error(ErrorCode::kClone, "git " + args[0] + " failed (exit " +
                                               std::to_string(out->exit_code) + "): " + text);
    }
    return text;
  }

 private:
  const CloneOptions& options_;
  GitInvocation git_;
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// Quotes a git config value: inside double quotes, backslash and double quote escaped.
std::string config_quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// The empty repository `git init` and `git remote add origin URL` would make, written
// directly: two git processes fewer on every attempt (each ~10 ms of CPU, 50-100 ms of wall
// time on a loaded 2-core runner). No hooks, no samples: nothing the job did not bring.
Result<void> make_workspace_repository(const fs::path& dir, const std::string& url) {
  std::error_code ec;
  for (const char* sub : {"objects/info", "objects/pack", "refs/heads", "refs/tags", "info"}) {
    fs::create_directories(dir / ".git" / sub, ec);
    if (ec)
      return make_error(ErrorCode::kClone,
                        "cannot create " + (dir / ".git" / sub).string() + ": " + ec.message());
  }
  std::ofstream head(dir / ".git" / "HEAD", std::ios::trunc);
  head << "ref: refs/heads/main\n";
  std::ofstream config(dir / ".git" / "config", std::ios::trunc);
  config << "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
            "\tlogallrefupdates = true\n"
            "[remote \"origin\"]\n\turl = "
         << config_quoted(url) << "\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
  if (!head.flush() || !config.flush())
    return make_error(ErrorCode::kClone, "cannot write the repository in " + dir.string());
  return {};
}

// A git message as part of one log line: newlines folded, at most 200 characters.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  text = trimmed(text);
  return text.size() > 200 ? text.substr(0, 200) + "..." : text;
}

// What a pass over the mirror found.
struct MirrorSync {
  RepoCacheOutcome::Mirror state = RepoCacheOutcome::Mirror::kHit;
  std::string sha;
  int64_t fetched_bytes = 0;
  std::set<std::string> copied;             // pack files already in the workspace
  Result<int64_t> early_copy = int64_t{0};  // what was copied beside the fetch
  std::chrono::milliseconds early_copy_time{0};
  bool repack = false;  // once the workspace has its copy: incremental fetches add a pack each
};

// The mirror is whole as far as cheap checks tell: the marker is there and every ref names
// an object that can be read (a deleted pack, a truncated packed-refs fail this).
bool mirror_intact(GitRunner& git, const fs::path& mirror) {
  std::error_code ec;
  if (!fs::exists(mirror / kMarker, ec)) return false;
  return git.run(mirror, {"for-each-ref", "--format=%(objectname) %(objecttype)"}).ok();
}

}  // namespace

Result<RepoCacheOutcome> RepoCache::checkout(const RepoSpec& repo, const fs::path& dir,
                                             const CloneOptions& options,
                                             const std::string& partition) {
  auto started = Steady::now();
  if (!can_serve(repo)) {
    return make_error(ErrorCode::kClone, "the repository cache cannot serve ref '" + repo.ref +
                                             "' / sha '" + repo.sha + "'");
  }
  RepoCacheOutcome outcome;
  outcome.key = mirror_key(partition, repo.url, options.token);
  const fs::path mirror = config_.dir / outcome.key;
  GitRunner git(options);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return make_error(ErrorCode::kClone, "cannot create " + dir.string() + ": " + ec.message());
  CORRAL_TRY(make_workspace_repository(dir, repo.url));

  const std::string want_ref = !repo.ref.empty() ? repo.ref : (repo.sha.empty() ? "HEAD" : "");
  // One pass: bring the mirror up to date under its lock and copy its objects out.
  auto sync = [&](bool rebuild) -> Result<MirrorSync> {
    MirrorSync result;
    std::error_code fs_ec;
    bool fresh = rebuild || !fs::exists(mirror / kMarker, fs_ec);
    // The packs the mirror has are copied into the workspace while git looks for the sha
    // and fetches: the copy is mostly the kernel's work, git's mostly process starts.
    std::jthread early_copy;
    if (!fresh) {
      early_copy = std::jthread([&] {
        auto started_copy = Steady::now();
        result.early_copy =
            copy_objects(mirror / "objects", dir / ".git" / "objects", result.copied, true);
        result.early_copy_time = since(started_copy);
      });
    }
    // A hit needs nothing more from the mirror than the commit's objects, which the
    // checkout reads whole (a damaged object fails it, and the mirror is rebuilt then).
    bool have_sha = !fresh && !repo.sha.empty() &&
                    git.run(mirror, {"cat-file", "-e", repo.sha + "^{commit}"}).ok();
    // A damaged mirror (a lost pack, a broken packed-refs) is not looked for before the
    // fetch: the fetch's connectivity check reads every ref and fails on it, or the
    // checkout does, and the caller rebuilds the mirror then. One git process fewer.
    if (fresh) {
      // Half-written (no marker: an earlier first fetch never finished) or damaged.
      fs::remove_all(mirror, fs_ec);
      fs::create_directories(mirror, fs_ec);
      CORRAL_TRY(git.run(mirror, {"init", "-q", "--bare"}));
      result.state =
          rebuild ? RepoCacheOutcome::Mirror::kRebuilt : RepoCacheOutcome::Mirror::kCreated;
    }
    bool fetched_by_ref = false;
    if (!have_sha) {
      int64_t before = pack_stats(mirror).bytes;
      auto fetch = [&](const std::string& what, const std::string& into) {
        return git.run(mirror, {"fetch", "-q", "--no-tags", "--no-write-fetch-head", "--", repo.url,
                                "+" + what + ":" + into});
      };
      Result<std::string> fetched = make_error(ErrorCode::kClone, "nothing to fetch");
      if (!repo.sha.empty()) fetched = fetch(repo.sha, "refs/corral/sha/" + repo.sha);
      if (!want_ref.empty() && (repo.sha.empty() || (!fetched.ok() && !git.killed()))) {
        // Servers that refuse to serve a bare sha: fetch the ref, then find the sha in it.
        fetched = fetch(want_ref, mirror_ref_for(want_ref));
        fetched_by_ref = true;
      }
      if (!fetched.ok()) return fetched.error();
      if (result.state == RepoCacheOutcome::Mirror::kHit)
        result.state = RepoCacheOutcome::Mirror::kFetched;
      auto stats = pack_stats(mirror);
      result.fetched_bytes = stats.bytes - before;
      result.repack = stats.count > kRepackAbovePacks;
    }
    if (early_copy.joinable()) early_copy.join();
    // A sha fetched by name is there now (its type is checked only if the checkout fails);
    // a ref is resolved to the commit it names.
    Result<std::string> resolved = repo.sha;
    if (!have_sha && fetched_by_ref) {
      resolved =
          git.run(mirror, {"rev-parse", "--verify", "-q",
                           (repo.sha.empty() ? mirror_ref_for(want_ref) : repo.sha) + "^{commit}"});
    }
    if (!resolved.ok()) {
      return make_error(ErrorCode::kClone,
                        repo.sha.empty()
                            ? "the mirror has no commit for " + want_ref
                            : "commit " + repo.sha + " is not in " + without_userinfo(repo.url) +
                                  (repo.ref.empty() ? "" : " (looked in " + repo.ref + ")"));
    }
    result.sha = trimmed(*resolved);
    if (!repo.sha.empty() && fetched_by_ref)  // keeps the sha from ever being pruned
      CORRAL_TRY(git.run(mirror, {"update-ref", "refs/corral/sha/" + result.sha, result.sha}));
    if (fresh) {
      std::ofstream marker(mirror / kMarker, std::ios::trunc);
      marker << without_userinfo(repo.url) << "\n";
      if (!marker.flush())
        return make_error(ErrorCode::kClone, "cannot write " + (mirror / kMarker).string());
    }
    fs::last_write_time(mirror / kMarker, fs::file_time_type::clock::now(), fs_ec);  // last use
    return result;
  };

  for (int round = 0; round < 2; ++round) {
    bool rebuild = round == 1;
    if (rebuild) {
      // Whatever the failed checkout left would stand in the way of the next one.
      fs::remove_all(dir, ec);
      fs::create_directories(dir, ec);
      CORRAL_TRY(make_workspace_repository(dir, repo.url));
    }
    Result<MirrorSync> synced = make_error(ErrorCode::kClone, "not run");
    {
      auto lock = Lock::take(*this, outcome.key, true);
      if (!lock) {
        return make_error(ErrorCode::kClone, "cannot lock the repository cache's mirror " +
                                                 outcome.key + " in " + config_.dir.string());
      }
      auto fetch_started = Steady::now();
      synced = sync(rebuild);
      outcome.fetch_time = since(fetch_started);
      if (!synced.ok()) {
        // A first fetch that never finished leaves nothing behind.
        if (!fs::exists(mirror / kMarker, ec)) fs::remove_all(mirror, ec);
        if (git.killed()) return synced.error();
        bool intact = mirror_intact(git, mirror);
        // A fetch refused by the remote leaves a good mirror: the error is the remote's.
        if (rebuild || intact || !fs::exists(mirror, ec)) return synced.error();
        outcome.damage = one_line(synced.error().message);
        spdlog::warn("repo cache: mirror {} looks damaged, rebuilding it: {}", outcome.key,
                     outcome.damage);
        continue;
      }
      if (!synced->early_copy.ok()) return synced->early_copy.error();
      auto copy_started = Steady::now();
      auto copied = copy_objects(mirror / "objects", dir / ".git" / "objects", synced->copied);
      outcome.copy_time = synced->early_copy_time + since(copy_started);
      if (!copied.ok()) return copied.error();
      outcome.copied_bytes = *synced->early_copy + *copied;
      if (synced->repack) {
        auto repacked = git.run(mirror, {"repack", "-a", "-d", "-q"});
        if (!repacked.ok())  // the attempt has its objects; the next fetch tries again
          spdlog::warn("repo cache: cannot repack mirror {}: {}", outcome.key,
                       one_line(repacked.error().message));
      }
    }
    auto checked_out = git.run(dir, {"checkout", "-q", synced->sha, "--"});
    if (!checked_out.ok()) {
      if (git.killed() || rebuild) return checked_out.error();
      if (!git.run(dir, {"cat-file", "-e", synced->sha + "^{commit}"}).ok() &&
          git.run(dir, {"cat-file", "-e", synced->sha}).ok()) {
        // The job named a tree or a blob: nothing is wrong with the mirror.
        return make_error(ErrorCode::kClone, "the sha " + synced->sha + " in " +
                                                 without_userinfo(repo.url) +
                                                 " names an object that is not a commit");
      }
      // The objects the mirror gave cannot be read: the mirror is damaged.
      outcome.damage = one_line(checked_out.error().message);
      spdlog::warn("repo cache: mirror {} gave unreadable objects, rebuilding it: {}", outcome.key,
                   outcome.damage);
      continue;
    }
    outcome.transcript += *checked_out;
    outcome.mirror = synced->state;
    if (rebuild) outcome.mirror = RepoCacheOutcome::Mirror::kRebuilt;
    outcome.sha = synced->sha;
    outcome.fetched_bytes = synced->fetched_bytes;
    outcome.evicted = enforce_bound(outcome.key);
    outcome.total_time = since(started);
    spdlog::info("{}", outcome.summary());
    return outcome;
  }
  return make_error(ErrorCode::kClone,
                    "the repository cache's mirror " + outcome.key + " could not be rebuilt");
}

RepoCache::Usage RepoCache::usage() const {
  Usage usage;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config_.dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 24 || !is_hex(name) || !entry.is_directory(ec)) continue;
    ++usage.mirrors;
    usage.bytes += tree_bytes(entry.path());
  }
  return usage;
}

std::vector<std::string> RepoCache::enforce_bound(const std::string& keep) {
  std::vector<std::string> evicted;
  if (config_.max_bytes <= 0) return evicted;
  struct Entry {
    std::string key;
    fs::file_time_type last_used;
    int64_t bytes;
  };
  std::vector<Entry> mirrors;
  int64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(config_.dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 24 || !is_hex(name) || !entry.is_directory(ec)) continue;
    std::error_code time_ec;
    auto used = fs::last_write_time(entry.path() / kMarker, time_ec);
    if (time_ec) used = fs::last_write_time(entry.path(), time_ec);
    mirrors.push_back({name, used, tree_bytes(entry.path())});
    total += mirrors.back().bytes;
  }
  std::sort(mirrors.begin(), mirrors.end(),
            [](const Entry& a, const Entry& b) { return a.last_used < b.last_used; });
  for (const auto& mirror : mirrors) {
    if (total <= config_.max_bytes) break;
    if (mirror.key == keep) continue;
    auto lock = Lock::take(*this, mirror.key, false);
    if (!lock) continue;  // in use
    fs::remove_all(config_.dir / mirror.key, ec);
    if (ec) {
      spdlog::warn("repo cache: cannot remove mirror {}: {}", mirror.key, ec.message());
      continue;
    }
    total -= mirror.bytes;
    evicted.push_back(mirror.key);
    spdlog::info("repo cache: removed mirror {} ({}), least recently used, to stay under {}",
                 mirror.key, human_bytes(mirror.bytes), human_bytes(config_.max_bytes));
  }
  return evicted;
}

}  // namespace corral

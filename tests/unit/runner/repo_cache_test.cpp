// The runner's repository cache (runner/repo_cache.h) through real git: local bare
// repositories stand in for the remote (file://, as RUNNER_ALLOW_LOCAL_REPOS allows).
#include "runner/repo_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "runner/config.h"

namespace corral {
namespace {

namespace fs = std::filesystem;

std::string read_cache_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

RepoSpec repo_at(const std::string& url, const std::string& ref, const std::string& sha) {
  RepoSpec repo;
  repo.url = url;
  repo.ref = ref;
  repo.sha = sha;
  return repo;
}

int64_t dir_bytes(const fs::path& dir) {
  int64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += static_cast<int64_t>(entry.file_size());
  }
  return total;
}

std::string git_out(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
  auto out = run_command(args, {}, dir);
  EXPECT_TRUE(out.ok());
  if (!out.ok()) return "";
  EXPECT_EQ(out->exit_code, 0) << out->output;
  std::string text = out->output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// A bare "remote" repository and a work tree that commits and pushes to it.
class Origin {
 public:
  explicit Origin(const fs::path& root) : bare_(root / "origin.git"), work_(root / "origin-work") {
    fs::create_directories(bare_);
    fs::create_directories(work_);
    git_out(bare_, {"init", "-q", "--bare"});
    git_out(work_, {"init", "-q", "-b", "main"});
  }
  // Commits version.txt = text (and `padding` bytes of filler) and returns the sha.
  std::string commit(const std::string& text, size_t padding = 0) {
    std::ofstream(work_ / "version.txt") << text << "\n";
    if (padding > 0) {
      std::string filler;
      for (size_t i = 0; filler.size() < padding; ++i)
        filler += sha256_hex(text + std::to_string(i));
      std::ofstream(work_ / "filler.txt") << filler;
    }
    git_out(work_, {"add", "."});
    git_out(work_, {"commit", "-q", "-m", text});
    return git_out(work_, {"rev-parse", "HEAD"});
  }
  void push(const std::string& refspec) {
    git_out(work_, {"push", "-q", "--force", bare_.string(), refspec});
  }
  std::string url() const { return "file://" + bare_.string(); }

 private:
  fs::path bare_, work_;
};

class RepoCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/corral-repo-cache-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    root_ = name;
    options_.allow_local = true;
  }
  void TearDown() override { fs::remove_all(root_); }

  RepoCache cache(int64_t max_bytes = 0) {
    return RepoCache(RepoCacheConfig{root_ / "cache", max_bytes});
  }
  fs::path workspace(const std::string& name) { return root_ / "ws" / name; }
  std::vector<std::string> mirrors() {
    std::vector<std::string> keys;
    for (const auto& entry : fs::directory_iterator(root_ / "cache")) {
      if (entry.path().filename() != "locks") keys.push_back(entry.path().filename().string());
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }
  fs::path mirror_dir(const std::string& key) { return root_ / "cache" / key; }

  fs::path root_;
  CloneOptions options_;
};

TEST_F(RepoCacheTest, TwoConcurrentAttemptsAtDifferentShasGetTheirOwnSelfContainedTrees) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  std::string second = origin.commit("second");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  Result<RepoCacheOutcome> a = make_error(ErrorCode::kInternal, "not run"), b = a;
  std::thread one([&] {
    a = repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("a"), options_, "t");
  });
  std::thread two([&] {
    b = repo_cache.checkout(repo_at(origin.url(), "main", second), workspace("b"), options_, "t");
  });
  one.join();
  two.join();
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(read_cache_file(workspace("a") / "version.txt"), "first\n");
  EXPECT_EQ(read_cache_file(workspace("b") / "version.txt"), "second\n");
  EXPECT_EQ(a->sha, first);
  EXPECT_EQ(b->sha, second);
  EXPECT_EQ(mirrors(), std::vector<std::string>{a->key});
  // One built the mirror; the other found its sha there or fetched it, never from scratch.
  EXPECT_NE(a->mirror == RepoCacheOutcome::Mirror::kCreated,
            b->mirror == RepoCacheOutcome::Mirror::kCreated);
  EXPECT_GT(a->copied_bytes, 0);

  // The workspaces are ordinary clones: no pointer back into the cache, `origin` is the
  // repository, and git works in them with the cache gone.
  for (const char* name : {"a", "b"}) {
    EXPECT_TRUE(fs::is_directory(workspace(name) / ".git"));
    EXPECT_FALSE(fs::exists(workspace(name) / ".git" / "objects" / "info" / "alternates"));
    EXPECT_EQ(git_out(workspace(name), {"remote", "get-url", "origin"}), origin.url());
  }
  fs::remove_all(root_ / "cache");
  EXPECT_EQ(git_out(workspace("b"), {"log", "--format=%s"}), "second\nfirst");
  EXPECT_EQ(git_out(workspace("a"), {"status", "--porcelain"}), "");
}

TEST_F(RepoCacheTest, ASecondAttemptAtAKnownShaFetchesNothingAndANewCommitFetchesOnlyItself) {
  Origin origin(root_);
  std::string first = origin.commit("first", 256 * 1024);
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto cold =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options_, "t");
  ASSERT_TRUE(cold.ok()) << cold.error().message;
  EXPECT_EQ(cold->mirror, RepoCacheOutcome::Mirror::kCreated);
  EXPECT_GT(cold->fetched_bytes, 100 * 1024);  // 256 KB of hex packs to ~150 KB

  auto warm =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("2"), options_, "t");
  ASSERT_TRUE(warm.ok()) << warm.error().message;
  EXPECT_EQ(warm->mirror, RepoCacheOutcome::Mirror::kHit);
  EXPECT_EQ(warm->fetched_bytes, 0);
  EXPECT_NE(warm->summary().find("nothing fetched"), std::string::npos) << warm->summary();

  std::string second = origin.commit("second");
  origin.push("main:refs/heads/main");
  auto next = repo_cache.checkout(repo_at(origin.url(), "main", ""), workspace("3"), options_, "t");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->mirror, RepoCacheOutcome::Mirror::kFetched);
  EXPECT_EQ(next->sha, second);
  EXPECT_GT(next->fetched_bytes, 0);
  EXPECT_LT(next->fetched_bytes, 64 * 1024);  // the new commit, not the history again
  EXPECT_EQ(read_cache_file(workspace("3") / "version.txt"), "second\n");
}

TEST_F(RepoCacheTest, APullRequestRefFromALocalBareRepository) {
  Origin origin(root_);
  origin.commit("base");
  origin.push("main:refs/heads/main");
  std::string head = origin.commit("pull request 7");
  origin.push("HEAD:refs/pull/7/head");  // on no branch, as a forge keeps it
  auto repo_cache = cache();
  auto pr = repo_cache.checkout(repo_at(origin.url(), "refs/pull/7/head", ""), workspace("pr"),
                                options_, "t");
  ASSERT_TRUE(pr.ok()) << pr.error().message;
  EXPECT_EQ(pr->sha, head);
  EXPECT_EQ(read_cache_file(workspace("pr") / "version.txt"), "pull request 7\n");

  // Pushed again (force-pushed, even): the next attempt gets the new head from the mirror.
  std::string again = origin.commit("pull request 7, second push");
  origin.push("HEAD:refs/pull/7/head");
  auto second = repo_cache.checkout(repo_at(origin.url(), "refs/pull/7/head", ""), workspace("pr2"),
                                    options_, "t");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->mirror, RepoCacheOutcome::Mirror::kFetched);
  EXPECT_EQ(second->sha, again);
  EXPECT_EQ(read_cache_file(workspace("pr2") / "version.txt"), "pull request 7, second push\n");
}

TEST_F(RepoCacheTest, AMirrorMissingItsPackIsRebuiltAndTheAttemptSucceeds) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  std::string side = origin.commit("side");  // a commit the next fetch's history lacks
  origin.push("HEAD:refs/pull/1/head");
  auto repo_cache = cache();
  for (const auto& [ref, sha] : {std::pair{"main", first}, std::pair{"refs/pull/1/head", side}}) {
    auto built =
        repo_cache.checkout(repo_at(origin.url(), ref, sha), workspace(sha), options_, "t");
    ASSERT_TRUE(built.ok()) << built.error().message;
  }
  std::string key = mirrors().front();
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(mirror_dir(key) / "objects" / "pack")) {
    if (entry.path().extension() == ".pack") removed += fs::remove(entry.path());
  }
  ASSERT_GT(removed, 0);

  // The fetch of the new commit brings its own history back, but the mirror's ref to the
  // side commit still names an object it lacks: found, and the mirror rebuilt.
  git_out(root_ / "origin-work", {"checkout", "-q", "-b", "next", first});
  std::string second = origin.commit("second");
  origin.push("next:refs/heads/main");
  auto rebuilt =
      repo_cache.checkout(repo_at(origin.url(), "main", second), workspace("2"), options_, "t");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->mirror, RepoCacheOutcome::Mirror::kRebuilt) << rebuilt->summary();
  EXPECT_EQ(read_cache_file(workspace("2") / "version.txt"), "second\n");
  EXPECT_EQ(git_out(workspace("2"), {"rev-parse", "HEAD"}), second);
}

TEST_F(RepoCacheTest, ATruncatedPackIsRebuiltEvenForAShaTheMirrorHas) {
  Origin origin(root_);
  std::string first = origin.commit("first", 64 * 1024);
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto built =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options_, "t");
  ASSERT_TRUE(built.ok()) << built.error().message;
  for (const auto& entry : fs::directory_iterator(mirror_dir(built->key) / "objects" / "pack")) {
    if (entry.path().extension() == ".pack") fs::resize_file(entry.path(), entry.file_size() / 2);
  }
  auto rebuilt =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("2"), options_, "t");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->mirror, RepoCacheOutcome::Mirror::kRebuilt) << rebuilt->summary();
  EXPECT_EQ(read_cache_file(workspace("2") / "version.txt"), "first\n");
  EXPECT_EQ(git_out(workspace("2"), {"status", "--porcelain"}), "");
}

TEST_F(RepoCacheTest, AnUnreadableObjectIsFoundByTheCheckoutAndTheMirrorRebuilt) {
  Origin origin(root_);
  std::string first = origin.commit("first", 64 * 1024);
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto built =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options_, "t");
  ASSERT_TRUE(built.ok()) << built.error().message;
  for (const auto& entry : fs::directory_iterator(mirror_dir(built->key) / "objects" / "pack")) {
    // Zeros over the middle of the pack: inside the filler's compressed data. The commit
    // still reads (so the sha looks present); the checkout cannot inflate the blob.
    if (entry.path().extension() != ".pack") continue;
    fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
    std::fstream pack(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    pack.seekp(static_cast<std::streamoff>(entry.file_size() / 2));
    pack << std::string(4096, '\0');
  }
  auto rebuilt =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("2"), options_, "t");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->mirror, RepoCacheOutcome::Mirror::kRebuilt) << rebuilt->summary();
  EXPECT_NE(rebuilt->damage.find("checkout"), std::string::npos) << rebuilt->damage;
  EXPECT_EQ(read_cache_file(workspace("2") / "version.txt"), "first\n");
  EXPECT_EQ(git_out(workspace("2"), {"status", "--porcelain"}), "");
}

TEST_F(RepoCacheTest, ATruncatedPackedRefsIsRebuiltAndTheAttemptSucceeds) {
  Origin origin(root_);
  origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto built =
      repo_cache.checkout(repo_at(origin.url(), "main", ""), workspace("1"), options_, "t");
  ASSERT_TRUE(built.ok()) << built.error().message;
  git_out(mirror_dir(built->key), {"pack-refs", "--all"});
  auto packed_refs = mirror_dir(built->key) / "packed-refs";
  fs::resize_file(packed_refs, fs::file_size(packed_refs) - 20);

  std::string second = origin.commit("second");
  origin.push("main:refs/heads/main");
  auto rebuilt =
      repo_cache.checkout(repo_at(origin.url(), "main", ""), workspace("2"), options_, "t");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->mirror, RepoCacheOutcome::Mirror::kRebuilt) << rebuilt->summary();
  EXPECT_EQ(rebuilt->sha, second);
  EXPECT_EQ(read_cache_file(workspace("2") / "version.txt"), "second\n");
}

TEST_F(RepoCacheTest, AShaNamingATreeIsRefusedAndTheMirrorIsKept) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto built =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options_, "t");
  ASSERT_TRUE(built.ok()) << built.error().message;
  std::string tree = git_out(root_ / "origin.git", {"rev-parse", first + "^{tree}"});

  auto refused =
      repo_cache.checkout(repo_at(origin.url(), "", tree), workspace("2"), options_, "t");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("not a commit"), std::string::npos)
      << refused.error().message;
  // The mirror was not rebuilt: the first commit is still there and is served without a fetch.
  auto again =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("3"), options_, "t");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->mirror, RepoCacheOutcome::Mirror::kHit) << again->summary();
}

TEST_F(RepoCacheTest, AHalfWrittenMirrorIsStartedAgainAndAKilledAttemptFailsAtOnce) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  CommandKiller killer;
  killer.kill();
  CloneOptions killed = options_;
  killed.killer = &killer;
  auto stopped =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), killed, "t");
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.error().message.find("killed"), std::string::npos) << stopped.error().message;

  // A mirror whose first fetch never finished has no marker: it is not trusted.
  auto built =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("2"), options_, "t");
  ASSERT_TRUE(built.ok()) << built.error().message;
  fs::remove(mirror_dir(built->key) / "corral-mirror");
  auto again =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("3"), options_, "t");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->mirror, RepoCacheOutcome::Mirror::kCreated);
  EXPECT_EQ(read_cache_file(workspace("3") / "version.txt"), "first\n");
}

TEST_F(RepoCacheTest, TheWorkspacesOriginIsTheUrlWhateverItHoldsAndGitCanFetchFromIt) {
  Origin origin(root_ / "a \"quoted\" \\ path");
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  auto done =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options_, "t");
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(git_out(workspace("1"), {"remote", "get-url", "origin"}), origin.url());
  std::string second = origin.commit("second");
  origin.push("main:refs/heads/main");
  git_out(workspace("1"), {"-c", "protocol.file.allow=always", "fetch", "-q", "origin"});
  EXPECT_EQ(git_out(workspace("1"), {"rev-parse", "origin/main"}), second);
}

TEST_F(RepoCacheTest, KeepsTheClonesProtections) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  CloneOptions no_local;  // RUNNER_ALLOW_LOCAL_REPOS off: the file transport is refused
  auto refused =
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), no_local, "t");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kClone);
  EXPECT_TRUE(mirrors().empty());  // the failed first fetch left no mirror behind

  // What git would read as refspec syntax, or a short sha, is not the cache's to serve.
  EXPECT_TRUE(RepoCache::can_serve(repo_at(origin.url(), "refs/pull/7/head", "")));
  EXPECT_TRUE(RepoCache::can_serve(repo_at(origin.url(), "main", first)));
  EXPECT_FALSE(RepoCache::can_serve(repo_at(origin.url(), "main:refs/heads/evil", "")));
  EXPECT_FALSE(RepoCache::can_serve(repo_at(origin.url(), "+main", "")));
  EXPECT_FALSE(RepoCache::can_serve(repo_at(origin.url(), "-main", "")));
  EXPECT_FALSE(RepoCache::can_serve(repo_at(origin.url(), "main", first.substr(0, 12))));
  EXPECT_FALSE(RepoCache::can_serve(repo_at(origin.url(), "a..b", "")));
}

TEST_F(RepoCacheTest, TenantsAndCredentialsGetTheirOwnMirrors) {
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  auto repo_cache = cache();
  std::set<std::string> keys;
  int n = 0;
  for (const auto& [tenant, token] :
       std::vector<std::pair<std::string, std::string>>{{"tenant-a", ""},
                                                        {"tenant-b", ""},
                                                        {"tenant-a", "token-one"},
                                                        {"tenant-a", "token-two"}}) {
    CloneOptions options = options_;
    options.token = token;
    options.credential_hosts = {"git.example.com"};
    auto done = repo_cache.checkout(repo_at(origin.url(), "main", first),
                                    workspace(std::to_string(n++)), options, tenant);
    ASSERT_TRUE(done.ok()) << done.error().message;
    EXPECT_NE(done->mirror, RepoCacheOutcome::Mirror::kHit) << tenant << " " << token;
    keys.insert(done->key);
  }
  EXPECT_EQ(keys.size(), 4u);
  EXPECT_EQ(mirrors().size(), 4u);
  EXPECT_EQ(RepoCache::mirror_key("tenant-a", origin.url(), "token-one"),
            RepoCache::mirror_key("tenant-a", origin.url(), "token-one"));
}

TEST_F(RepoCacheTest, TheTokenNeverLandsInAnyFileNorInAnError) {
  const std::string token = "ghp_s3cret-cache-t0ken";
  Origin origin(root_);
  std::string first = origin.commit("first");
  origin.push("main:refs/heads/main");
  origin.push("main:refs/pull/3/head");
  auto repo_cache = cache();
  CloneOptions options = options_;
  options.token = token;
  options.credential_hosts = {"git.example.com"};
  ASSERT_TRUE(
      repo_cache.checkout(repo_at(origin.url(), "main", first), workspace("1"), options, "t").ok());
  ASSERT_TRUE(
      repo_cache
          .checkout(repo_at(origin.url(), "refs/pull/3/head", ""), workspace("2"), options, "t")
          .ok());
  auto failed = repo_cache.checkout(repo_at("file:///nonexistent/" + token, "main", ""),
                                    workspace("3"), options, "t");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message.find(token), std::string::npos) << failed.error().message;
  EXPECT_NE(failed.error().message.find("[MASKED]"), std::string::npos) << failed.error().message;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / "cache")) {
    if (!entry.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(read_cache_file(entry.path()).find(token), std::string::npos) << entry.path();
    EXPECT_EQ(entry.path().string().find(token), std::string::npos) << entry.path();
  }
  EXPECT_GT(files, 10);
}

TEST_F(RepoCacheTest, TheBoundRemovesTheLeastRecentlyUsedMirrorThatIsNotInUse) {
  std::vector<std::unique_ptr<Origin>> origins;
  std::vector<std::string> shas;
  for (int i = 0; i < 4; ++i) {
    origins.push_back(std::make_unique<Origin>(root_ / ("origin" + std::to_string(i))));
    shas.push_back(origins.back()->commit("repo " + std::to_string(i), 128 * 1024));
    origins.back()->push("main:refs/heads/main");
  }
  auto unbounded = cache();
  std::vector<std::string> keys;
  for (int i : {0, 1, 2}) {
    auto done = unbounded.checkout(repo_at(origins[i]->url(), "main", shas[i]),
                                   workspace("u" + std::to_string(i)), options_, "t");
    ASSERT_TRUE(done.ok()) << done.error().message;
    keys.push_back(done->key);
  }
  int64_t mirror_bytes = 0;
  for (const auto& key : keys) mirror_bytes = std::max(mirror_bytes, dir_bytes(mirror_dir(key)));
  // Used again: 0 is now more recent than 1 and 2.
  ASSERT_TRUE(
      unbounded
          .checkout(repo_at(origins[0]->url(), "main", shas[0]), workspace("again"), options_, "t")
          .ok());
  // Mirror 1, the least recently used, is busy in another runner sharing the directory.
  int busy = ::open((root_ / "cache" / "locks" / (keys[1] + ".lock")).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(busy, 0);
  ASSERT_EQ(::flock(busy, LOCK_EX), 0);

  // Room for three and a half such mirrors: adding a fourth must remove one, and that is 2.
  auto bounded = cache(3 * mirror_bytes + mirror_bytes / 2);
  auto fourth =
      bounded.checkout(repo_at(origins[3]->url(), "main", shas[3]), workspace("b3"), options_, "t");
  ASSERT_TRUE(fourth.ok()) << fourth.error().message;
  EXPECT_EQ(fourth->evicted, std::vector<std::string>{keys[2]});
  auto left = mirrors();
  EXPECT_EQ(std::count(left.begin(), left.end(), keys[2]), 0);
  for (const auto& key : {keys[0], keys[1], fourth->key})
    EXPECT_EQ(std::count(left.begin(), left.end(), key), 1) << key;
  ::close(busy);

  // Once free, 1 goes too when the bound requires it.
  auto tight = cache(1);
  EXPECT_EQ(tight.enforce_bound(fourth->key), (std::vector<std::string>{keys[1], keys[0]}));
  EXPECT_EQ(mirrors(), std::vector<std::string>{fourth->key});
}

TEST(RepoCacheConfig, DefaultsUnderTheWorkspaceBaseAndCanBeSwitchedOff) {
  std::map<std::string, std::string> base{{"RUNNER_SERVER_URL", "http://127.0.0.1:1"},
                                          {"RUNNER_TOKEN", "t"},
                                          {"RUNNER_NAME", "n"},
                                          {"RUNNER_EXECUTOR", "shell"},
                                          {"DOCKER_WORKSPACE_BASE", "/srv/ws"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    auto env = base;
    for (auto& [k, v] : extra) env[k] = v;
    return build_runner_config({}, env, {});
  };
  auto plain = with({});
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->repo_cache_dir, "/srv/ws/.repos");
  EXPECT_EQ(plain->repo_cache_max_bytes, int64_t{10} << 30);
  EXPECT_EQ(with({{"RUNNER_REPO_CACHE", "off"}})->repo_cache_dir, "");
  EXPECT_EQ(
      with({{"RUNNER_REPO_CACHE", "/cache"}, {"RUNNER_REPO_CACHE_MAX", "2g"}})->repo_cache_dir,
      "/cache");
  EXPECT_EQ(with({{"RUNNER_REPO_CACHE_MAX", "2g"}})->repo_cache_max_bytes, int64_t{2} << 30);
  EXPECT_EQ(with({{"RUNNER_REPO_CACHE_MAX", "unlimited"}})->repo_cache_max_bytes, 0);
  auto relative = with({{"RUNNER_REPO_CACHE", "cache"}});
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("RUNNER_REPO_CACHE"), std::string::npos);
  auto bad_size = with({{"RUNNER_REPO_CACHE_MAX", "lots"}});
  ASSERT_FALSE(bad_size.ok());
  EXPECT_NE(bad_size.error().message.find("RUNNER_REPO_CACHE_MAX"), std::string::npos);
}

}  // namespace
}  // namespace corral

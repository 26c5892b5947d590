// The repository cache (runner/repo_cache.h) against a fresh clone, in one run: a generated
// local repository of about 100 MB and 5,000 commits (bench/make_bench_repo.sh) is
//   - cloned fresh as the runner does without the cache (clone_repository): full history,
//     and at the runner's default depth (RUNNER_CLONE_DEPTH=50);
//   - checked out through the cache with a cold mirror (the first attempt on a runner);
//   - checked out through the warm mirror after one new commit was pushed (fetch one commit,
//     copy the objects, check out), and again at a sha the mirror has (nothing fetched).
// Prints the medians and the ratios to the fresh full clone. Goal (issue 16): warm <= 0.1x.
//
//   build/repo_cache_bench [RUNS=3] [REPO_DIR]    (REPO_DIR: reuse a repository made earlier
//                                                  by bench/make_bench_repo.sh REPO_DIR)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "runner/repo_cache.h"
#include "runner/workspace.h"

using namespace corral;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string must(const std::vector<std::string>& argv, const fs::path& cwd = {},
                 const std::map<std::string, std::string>& env = {}) {
  auto out = run_command(argv, env, cwd);
  if (!out.ok() || out->exit_code != 0) {
    std::cerr << "repo_cache_bench: " << argv[0] << " " << (argv.size() > 1 ? argv[1] : "")
              << " failed: " << (out.ok() ? out->output : out.error().message) << "\n";
    std::exit(1);
  }
  std::string text = out->output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Pushes one new commit to main in the bare repository: 20 KB of new bytes in one file.
std::string new_commit(const fs::path& origin, int n) {
  fs::path blob_file = origin / ("bench-blob-" + std::to_string(n));
  must({"sh", "-c", "head -c 20000 /dev/urandom > " + blob_file.string()});
  std::string blob = must({"git", "hash-object", "-w", blob_file.string()}, origin);
  fs::remove(blob_file);
  std::map<std::string, std::string> env{{"GIT_INDEX_FILE", (origin / "bench-index").string()},
                                         {"GIT_AUTHOR_NAME", "bench"},
                                         {"GIT_AUTHOR_EMAIL", "bench@example.com"},
                                         {"GIT_COMMITTER_NAME", "bench"},
                                         {"GIT_COMMITTER_EMAIL", "bench@example.com"}};
  must({"git", "read-tree", "main"}, origin, env);
  must({"git", "update-index", "--add", "--cacheinfo",
        "100644," + blob + ",src/new" + std::to_string(n) + ".bin"},
       origin, env);
  std::string tree = must({"git", "write-tree"}, origin, env);
  std::string commit = must(
      {"git", "commit-tree", tree, "-p", "main", "-m", "new " + std::to_string(n)}, origin, env);
  must({"git", "update-ref", "refs/heads/main", commit}, origin);
  fs::remove(origin / "bench-index");
  return commit;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  char tmpl[] = "/tmp/corral-repo-cache-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  fs::path work = tmpl;
  fs::path origin = argc > 2 ? fs::path(argv[2]) : work / "origin.git";
  if (argc <= 2) {
    fs::path script = fs::path(__FILE__).parent_path() / "make_bench_repo.sh";
    std::cout << "generating the repository (" << script.string() << ")...\n" << std::flush;
    must({script.string(), origin.string()});
  }
  std::cout << "repository: " << origin.string() << ", "
            << must({"git", "rev-list", "--count", "main"}, origin) << " commits, "
            << must({"du", "-sh", origin.string()}) << "\n";
  const std::string url = "file://" + origin.string();
  CloneOptions options;
  options.allow_local = true;
  auto spec = [&](const std::string& sha) {
    RepoSpec repo;
    repo.url = url;
    repo.ref = "main";
    repo.sha = sha;
    return repo;
  };
  int n = 0;
  auto fresh_dir = [&] { return work / ("ws" + std::to_string(n++)); };
  auto time_it = [&](const char* what, auto&& fn) {
    fs::path dir = fresh_dir();
    auto start = Steady::now();
    std::string line = fn(dir);
    double ms = ms_since(start);
    std::printf("  %-34s %9.0f ms  %s\n", what, ms, line.c_str());
    fs::remove_all(dir);
    return ms;
  };
  auto clone = [&](int depth) {
    return [&, depth](const fs::path& dir) {
      CloneOptions o = options;
      o.depth = depth;
      auto done = clone_repository(spec(""), dir, o);
      if (!done.ok()) std::cerr << done.error().message << "\n", std::exit(1);
      return std::string();
    };
  };
  RepoCache cache(RepoCacheConfig{work / "cache", 0});
  auto through_cache = [&](const std::string& sha) {
    return [&, sha](const fs::path& dir) {
      auto done = cache.checkout(spec(sha), dir, options, "bench");
      if (!done.ok()) std::cerr << done.error().message << "\n", std::exit(1);
      return done->summary();
    };
  };

  std::vector<double> fresh, fresh50, cold, warm, hit;
  for (int i = 0; i < runs; ++i) {
    std::printf("run %d\n", i + 1);
    fresh.push_back(time_it("fresh clone, full history", clone(0)));
    fresh50.push_back(time_it("fresh clone, depth 50", clone(50)));
    fs::remove_all(work / "cache");
    cold.push_back(time_it("cache, cold mirror", through_cache("")));
    std::string sha = new_commit(origin, i);
    warm.push_back(time_it("cache, warm mirror + 1 new commit", through_cache(sha)));
    hit.push_back(time_it("cache, warm mirror, known sha", through_cache(sha)));
  }
  double base = median(fresh);
  std::printf("\nmedians of %d runs (ratio to the fresh full clone)\n", runs);
  std::printf("  fresh clone, full history        %7.0f ms  1.00x\n", base);
  std::printf("  fresh clone, depth 50            %7.0f ms  %.2fx\n", median(fresh50),
              median(fresh50) / base);
  std::printf("  cache, cold mirror               %7.0f ms  %.2fx\n", median(cold),
              median(cold) / base);
  std::printf("  cache, warm + 1 new commit       %7.0f ms  %.2fx  (%.2fx of depth 50)\n",
              median(warm), median(warm) / base, median(warm) / median(fresh50));
  std::printf("  cache, warm, known sha           %7.0f ms  %.2fx\n", median(hit),
              median(hit) / base);
  fs::remove_all(work);
  return 0;
}

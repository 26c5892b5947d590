#include "runner/workspace.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace corral {

WorkspacePaths workspace_paths(const std::filesystem::path& base, const std::string& job_id, int attempt) {
  return {base / job_id / std::to_string(attempt),
          base / ".spool" / (job_id + "-" + std::to_string(attempt) + ".log")};
}

Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& extra_env,
                                  const std::filesystem::path& cwd) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto key = kv.substr(0, kv.find('='));
    if (!extra_env.count(key)) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, std::string("pipe: ") + strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return make_error(ErrorCode::kIo, "cannot run " + argv[0] + ": " + strerror(rc));
  }
  CommandOutput out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && out.output.size() < 1 << 20) out.output.append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

namespace {
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos; (pos = text.find(secret)) != std::string::npos;) text.replace(pos, secret.size(), "[MASKED]");
  return text;
}
}  // namespace

Result<std::string> clone_repository(const RepoSpec& repo, int depth, const std::filesystem::path& dir,
                                     const std::string& token) {
  std::map<std::string, std::string> env{{"GIT_TERMINAL_PROMPT", "0"}, {"GIT_ASKPASS", "/bin/true"}};
  std::vector<std::string> git{"git", "-c", "advice.detachedHead=false", "-c", "protocol.version=2"};
  if (!token.empty()) {
    // The helper reads the token from the environment when git asks; the command line
    // holds only the variable's name.
    env["CORRAL_GIT_TOKEN"] = token;
    git.insert(git.end(), {"-c", "credential.helper=", "-c",
                           "credential.helper=!f() { echo username=x-access-token; echo \"password=$CORRAL_GIT_TOKEN\"; }; f"});
  }
  std::string transcript;
  auto step = [&](std::vector<std::string> args) -> Result<void> {
    std::vector<std::string> argv = git;
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = run_command(argv, env, dir);
    if (!out.ok()) return make_error(ErrorCode::kClone, out.error().message);
    transcript += scrub(out->output, token);
    if (out->exit_code != 0) {
      return make_error(ErrorCode::kClone, "git " + args[0] + " failed (exit " + std::to_string(out->exit_code) +
                                               "): " + scrub(out->output, token));
    }
    return {};
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  CORRAL_TRY(step({"init", "-q"}));
  CORRAL_TRY(step({"remote", "add", "origin", repo.url}));
  std::string want = !repo.sha.empty() ? repo.sha : (!repo.ref.empty() ? repo.ref : "HEAD");
  std::vector<std::string> fetch{"fetch", "-q", "--no-tags"};
  if (depth > 0) fetch.push_back("--depth=" + std::to_string(depth));
  fetch.insert(fetch.end(), {"origin", want});
  auto fetched = step(fetch);
  if (!fetched.ok() && !repo.sha.empty() && !repo.ref.empty()) {
    // Servers that refuse to serve a bare sha: fetch the ref, then find the sha in it.
    std::vector<std::string> by_ref{"fetch", "-q", "--no-tags"};
    if (depth > 0) by_ref.push_back("--depth=" + std::to_string(depth));
    by_ref.insert(by_ref.end(), {"origin", repo.ref});
    fetched = step(by_ref);
  }
  if (!fetched.ok()) return fetched.error();
  CORRAL_TRY(step({"checkout", "-q", repo.sha.empty() ? "FETCH_HEAD" : repo.sha}));
  return transcript;
}

std::string git_version() {
  auto out = run_command({"git", "--version"}, {});
  if (!out.ok() || out->exit_code != 0) return "";
  std::string v = out->output;
  auto pos = v.rfind(' ');
  v = pos == std::string::npos ? v : v.substr(pos + 1);
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

}  // namespace corral

#include "runner/workspace.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/numbers.h"

namespace corral {

WorkspacePaths workspace_paths(const std::filesystem::path& base, const std::string& job_id,
                               int attempt) {
  return {base / job_id / std::to_string(attempt),
          base / ".spool" / (job_id + "-" + std::to_string(attempt) + ".log")};
}

Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& extra_env,
                                  const std::filesystem::path& cwd, CommandKiller* killer) {
  RunOptions options;
  options.env = extra_env;
  options.cwd = cwd;
  options.killer = killer;
  return run_process(argv, options);
}

std::string scrub_secret(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos; (pos = text.find(secret)) != std::string::npos;)
    text.replace(pos, secret.size(), "[MASKED]");
  return text;
}

std::string git_credential_helper(std::string_view token_variable) {
  return "!f() { test \"$1\" = get || exit 0; echo username=x-access-token; echo \"password=$" +
         std::string(token_variable) + "\"; }; f";
}

std::vector<std::string> git_credential_args(const std::vector<std::string>& credential_hosts) {
  // An empty value clears the helpers of the system's and the user's git config.
  std::vector<std::string> args{"-c", "credential.helper="};
  for (const auto& host : credential_hosts) {
    args.insert(args.end(), {"-c", "credential.https://" + host +
                                       ".helper=" + git_credential_helper("CORRAL_GIT_TOKEN")});
  }
  return args;
}

GitInvocation git_invocation(const CloneOptions& options) {
  GitInvocation git;
  git.env = {{"GIT_TERMINAL_PROMPT", "0"},
             {"GIT_ASKPASS", "/bin/true"},
             {"SSH_ASKPASS", "/bin/true"},
             {"GIT_PROTOCOL_FROM_USER", "0"}};
  git.argv = {"git", "-c", "advice.detachedHead=false", "-c", "protocol.version=2",
              // Only the transports a clone needs; ext:: and friends never.
              "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c",
              "protocol.http.allow=always", "-c", "protocol.ssh.allow=always", "-c",
              "protocol.git.allow=always", "-c",
              std::string("protocol.file.allow=") + (options.allow_local ? "always" : "never")};
  auto credentials = git_credential_args(options.token.empty() ? std::vector<std::string>{}
                                                               : options.credential_hosts);
  git.argv.insert(git.argv.end(), credentials.begin(), credentials.end());
  // The helper reads the token from the environment when git asks; the command line holds
  // only the variable's name.
  if (!options.token.empty()) git.env["CORRAL_GIT_TOKEN"] = options.token;
  return git;
}

Result<std::string> clone_repository(const RepoSpec& repo, const std::filesystem::path& dir,
                                     const CloneOptions& options) {
  const std::string& token = options.token;
  const GitInvocation invocation = git_invocation(options);
  const auto& git = invocation.argv;
  const auto& env = invocation.env;
  std::string transcript;
  auto step = [&](std::vector<std::string> args) -> Result<void> {
    std::vector<std::string> argv = git;
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = run_command(argv, env, dir, options.killer);
    if (options.killer && options.killer->killed())
      return make_error(ErrorCode::kClone, "git was killed");
    if (!out.ok()) return make_error(ErrorCode::kClone, out.error().message);
    transcript += scrub_secret(out->output, token);
    if (out->exit_code != 0) {
      return make_error(ErrorCode::kClone, "git " + args[0] + " failed (exit " +
                                               std::to_string(out->exit_code) +
                                               "): " + scrub_secret(out->output, token));
    }
    return {};
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  CORRAL_TRY(step({"init", "-q"}));
  CORRAL_TRY(step({"remote", "add", "--", "origin", repo.url}));
  std::string want = !repo.sha.empty() ? repo.sha : (!repo.ref.empty() ? repo.ref : "HEAD");
  auto fetch_args = [&](const std::string& what) {
    std::vector<std::string> fetch{"fetch", "-q", "--no-tags"};
    if (options.depth > 0) fetch.push_back("--depth=" + std::to_string(options.depth));
    fetch.insert(fetch.end(), {"--", "origin", what});
    return fetch;
  };
  auto fetched = step(fetch_args(want));
  if (!fetched.ok() && !repo.sha.empty() && !repo.ref.empty() &&
      !(options.killer && options.killer->killed())) {
    // Servers that refuse to serve a bare sha: fetch the ref, then find the sha in it.
    fetched = step(fetch_args(repo.ref));
  }
  if (!fetched.ok()) return fetched.error();
  CORRAL_TRY(step({"checkout", "-q", repo.sha.empty() ? "FETCH_HEAD" : repo.sha, "--"}));
  return transcript;
}

Result<void> open_workspace_to(const std::filesystem::path& dir, const std::string& user) {
  if (user.empty()) return {};
  std::string uid_text = user.substr(0, user.find(':'));
  std::string gid_text =
      user.find(':') == std::string::npos ? uid_text : user.substr(user.find(':') + 1);
  auto numeric_uid = parse_number<uid_t>(uid_text);
  auto numeric_gid = parse_number<gid_t>(gid_text);
  bool chown_it = geteuid() == 0 && numeric_uid && numeric_gid;
  uid_t uid = chown_it ? *numeric_uid : 0;
  gid_t gid = chown_it ? *numeric_gid : 0;
  auto fix = [&](const std::filesystem::path& path) -> Result<void> {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return {};
    int rc = 0;
    if (chown_it) {
      rc = ::lchown(path.c_str(), uid, gid);
    } else {
      mode_t mode = st.st_mode | S_IRUSR | S_IWUSR | S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;
      if (S_ISDIR(st.st_mode) || (st.st_mode & S_IXUSR)) mode |= S_IXUSR | S_IXGRP | S_IXOTH;
      rc = ::chmod(path.c_str(), mode & 07777);
    }
    if (rc != 0) {
      return make_error(ErrorCode::kIo, "cannot give " + path.string() + " to container user " +
                                            user + ": " + strerror(errno));
    }
    return {};
  };
  CORRAL_TRY(fix(dir));
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    CORRAL_TRY(fix(it->path()));
  }
  if (ec) return make_error(ErrorCode::kIo, "cannot walk " + dir.string() + ": " + ec.message());
  return {};
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

#include "runner/self_update.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto.h"
#include "common/json_limits.h"
#include "common/spawn.h"

extern char** environ;

namespace corral {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path with_suffix(const fs::path& binary, const char* suffix) {
  return binary.string() + suffix;
}

Error update_error(const std::string& what) {
  return make_error(ErrorCode::kUnavailable, what);
}

// `binary --version`, killed after 10 s: a binary that hangs is as bad as one that fails.
Result<std::string> version_of(const fs::path& binary) {
  RunOptions options;
  options.timeout = std::chrono::seconds(10);
  auto out = run_process({binary.string(), "--version"}, options);
  if (!out.ok()) return out.error();
  std::string text = out->output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (out->timed_out)
    return update_error("`" + binary.string() + " --version` did not answer in 10 s");
  if (out->exit_code != 0) {
    return update_error("`" + binary.string() + " --version` failed (exit " +
                        std::to_string(out->exit_code) + "): " + text.substr(0, 200));
  }
  return text;
}

Result<void> write_marker(const fs::path& binary, const PendingUpdate& update) {
  json marker{{"command_id", update.command_id},
              {"from_version", update.from_version},
              {"to_version", update.to_version},
              {"deadline_ms", update.deadline_ms},
              {"starts", update.starts}};
  fs::path path = with_suffix(binary, ".update");
  fs::path temporary = with_suffix(binary, ".update.tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << marker.dump() << "\n";
    if (!out.flush()) return update_error("cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) return update_error("cannot write " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace

Result<fs::path> own_binary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec)
    return update_error("cannot find the runner's own binary (/proc/self/exe): " + ec.message());
  return self;
}

std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

Result<fs::path> stage_update(const fs::path& binary, std::string_view bytes,
                              const std::string& sha256, const std::string& version) {
  std::string got = sha256_hex(bytes);
  if (got != sha256) {
    return update_error("the downloaded binary's sha256 is " + got + ", not " + sha256 +
                        " as the command said (the server's file changed, or the download was "
                        "damaged); nothing was replaced");
  }
  fs::path staged = with_suffix(binary, ".new");
  std::error_code ec;
  fs::remove(staged, ec);
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      return update_error("cannot write " + staged.string() +
                          ": the runner's user must be able to write the directory its binary "
                          "is in to update itself");
    }
  }
  fs::permissions(staged,
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                      fs::perms::others_read | fs::perms::others_exec,
                  ec);
  if (ec) return update_error("cannot make " + staged.string() + " executable: " + ec.message());
  auto answered = version_of(staged);
  if (!answered.ok() || *answered != version) {
    fs::remove(staged, ec);
    return update_error(answered.ok() ? "the new binary says it is version '" + *answered +
                                            "', not '" + version + "'; nothing was replaced"
                                      : "the new binary failed its self-check: " +
                                            answered.error().message + "; nothing was replaced");
  }
  return staged;
}

Result<void> install_update(const fs::path& binary, const PendingUpdate& update) {
  CORRAL_TRY(write_marker(binary, update));
  std::error_code ec;
  fs::rename(binary, with_suffix(binary, ".previous"), ec);
  if (!ec) fs::rename(with_suffix(binary, ".new"), binary, ec);
  if (ec) {
    std::error_code ignored;
    if (!fs::exists(binary, ignored)) fs::rename(with_suffix(binary, ".previous"), binary, ignored);
    fs::remove(with_suffix(binary, ".update"), ignored);
    return update_error("cannot put the new binary in place of " + binary.string() + ": " +
                        ec.message());
  }
  return {};
}

Result<UpdateCheck> check_pending_update(const fs::path& binary, TimeMs now) {
  UpdateCheck check;
  fs::path path = with_suffix(binary, ".update");
  std::error_code ec;
  if (!fs::exists(path, ec)) return check;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  json marker = json::parse(text.str(), nullptr, false);
  PendingUpdate update;
  if (marker.is_object()) {
    update.command_id = json_string_or(marker, "command_id");
    update.from_version = json_string_or(marker, "from_version");
    update.to_version = json_string_or(marker, "to_version");
    update.deadline_ms = json_int_or(marker, "deadline_ms", 0);
    update.starts = static_cast<int>(json_int_or(marker, "starts", 0));
  }
  std::string why;
  if (!marker.is_object()) {
    why = "its marker " + path.string() + " could not be read";
  } else if (update.starts > 0) {
    why = "version " + update.to_version + " stopped before it registered with the server";
  } else if (now > update.deadline_ms) {
    why = "version " + update.to_version + " did not register with the server in time";
  }
  if (why.empty()) {
    ++update.starts;
    CORRAL_TRY(write_marker(binary, update));
    check.pending = update;
    return check;
  }
  auto plan = roll_back_update(binary, update, why);
  if (!plan.ok()) return plan.error();
  check.rollback = *plan;
  return check;
}

void confirm_update(const fs::path& binary) {
  std::error_code ec;
  fs::remove(with_suffix(binary, ".update"), ec);
}

Result<RestartPlan> roll_back_update(const fs::path& binary, const PendingUpdate& update,
                                     const std::string& why) {
  fs::path previous = with_suffix(binary, ".previous");
  std::error_code ec;
  if (!fs::exists(previous, ec)) {
    confirm_update(binary);
    return update_error("the update to " + update.to_version + " failed (" + why +
                        ") and there is no previous binary (" + previous.string() +
                        ") to go back to");
  }
  fs::rename(binary, with_suffix(binary, ".failed"), ec);
  fs::rename(previous, binary, ec);
  if (ec) return update_error("cannot put " + previous.string() + " back: " + ec.message());
  confirm_update(binary);
  RestartPlan plan;
  plan.binary = binary;
  plan.argv = own_arguments();
  if (!update.command_id.empty()) plan.env[kRestartCommandEnv] = update.command_id;
  plan.env[kUpdateFailedEnv] = "rolled back to " + update.from_version + ": " + why;
  return plan;
}

Error exec_restart(const RestartPlan& plan) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    // What an earlier restart set is not carried over.
    if (name == kRestartCommandEnv || name == kUpdateFailedEnv || plan.env.count(name)) continue;
    env_text.emplace_back(entry);
  }
  for (const auto& [name, value] : plan.env) env_text.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_text) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args =
      plan.argv.empty() ? std::vector<std::string>{plan.binary.string()} : plan.argv;
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The new program must not inherit sockets (a metrics listener would keep its port).
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 1024; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  execve(plan.binary.c_str(), argv.data(), envp.data());
  return update_error("cannot start " + plan.binary.string() + ": " + std::strerror(errno));
}

}  // namespace corral

// Issue 19, the setup wizard: the real `corral` in a pseudo-terminal, answering its prompts
// (each awaited with a deadline) against a real server, a wrong token first; the file it
// writes, the token never on the terminal, and `corral runner` registering with that file.
// Also `corral runner` without its settings: exit 2 naming them all without a terminal, the
// offer of the setup in one. The shell executor: no container engine is needed.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <set>

#include "harness.h"
#include "runner/config.h"
#include "runner/env_file.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// A child process on a pseudo-terminal: what it prints is read from the master side, and
// what is written there is its typing.
class PtyProcess {
 public:
  PtyProcess(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
             const fs::path& cwd) {
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      if (auto eq = kv.find('='); eq != std::string::npos)
        merged[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env) merged[k] = v;
    // Everything the child needs is ready before the fork: it only chdirs and execs.
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    for (auto& s : argv) args.push_back(s.data());
    envp.push_back(nullptr);
    args.push_back(nullptr);
    std::string dir = cwd.string();
    winsize size{40, 160, 0, 0};
    pid_ = forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      if (chdir(dir.c_str()) != 0) _exit(126);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    if (pid_ < 0) throw std::runtime_error(std::string("forkpty: ") + strerror(errno));
  }

  ~PtyProcess() {
    if (running()) {
      ::kill(pid_, SIGTERM);
      if (wait(10s) == -1) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    close(master_);
  }

  // Reads until `text` shows after what earlier expects matched; false at the deadline.
  bool expect(const std::string& text, std::chrono::milliseconds deadline = 15s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (auto at = output_.find(text, cursor_); at != std::string::npos) {
        cursor_ = at + text.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(left)) return false;
    }
  }

  void type(const std::string& line) {
    std::string keys = line + "\r";  // the Enter key
    ASSERT_EQ(write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }

  bool running() {
    if (exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }

  // Exit status (reading the output meanwhile), -1 at the deadline.
  int wait(std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (running()) {
      if (std::chrono::steady_clock::now() >= until) return -1;
      read_some(20ms);
    }
    while (read_some(0ms)) {
    }
    return status_;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& output() const { return output_; }

 private:
  // One read of what is there within `timeout`; false when nothing came.
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{master_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buffer[4096];
    ssize_t n = read(master_, buffer, sizeof buffer);
    if (n <= 0) return false;  // EIO: the child closed the terminal
    output_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::string output_;
  size_t cursor_ = 0;
};

std::string wizard_read_file(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class SetupWizardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>();
    admin_ = std::make_unique<Api>(server_->url(), server_->admin_token());
    dir_ = make_temp_dir("corral-wizard");
    token_ = create_token(*server_, "runner", "default", "wizard");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The runner of that name as GET /api/v1/runners shows it, once `done` holds for it.
  json wait_for_runner(const std::string& name, const std::function<bool(const json&)>& done) {
    json found;
    wait_until(
        [&] {
          json listed = admin_->get("/api/v1/runners")["runners"];
          for (const auto& r : listed) {
            if (r["name"] == name && done(r)) found = r;
          }
          return !found.is_null();
        },
        15s, 20ms);
    return found;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> admin_;
  fs::path dir_;
  std::string token_;
};

void expect_mode_0600(const fs::path& path) {
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
}

TEST_F(SetupWizardTest, WritesAConfigFileTheRunnerRegistersWith) {
  const std::string wrong_token = "crl_not_a_token_of_this_server";
  fs::path config = dir_ / "runner.yml";
  PtyProcess wizard({corral_binary(), "runner", "setup", "--config", config.string()}, {}, dir_);
  ASSERT_TRUE(wizard.expect("Server URL")) << wizard.output();
  wizard.type(server_->url());
  ASSERT_TRUE(wizard.expect("Registration token (typing is hidden): ")) << wizard.output();
  wizard.type(wrong_token);
  ASSERT_TRUE(wizard.expect("Runner name [")) << wizard.output();
  wizard.type("wizard-box");
  ASSERT_TRUE(wizard.expect("The server refused the token")) << wizard.output();
  ASSERT_TRUE(wizard.expect("Registration token (typing is hidden): ")) << wizard.output();
  wizard.type(token_);
  ASSERT_TRUE(wizard.expect("Registered as wizard-box")) << wizard.output();
  ASSERT_TRUE(wizard.expect("Labels")) << wizard.output();
  wizard.type("linux,wizard");
  ASSERT_TRUE(wizard.expect("Jobs at once [1]: ")) << wizard.output();
  wizard.type("2");
  ASSERT_TRUE(wizard.expect("Executor")) << wizard.output();
  wizard.type("shell");
  ASSERT_TRUE(wizard.expect("Workspace directory")) << wizard.output();
  wizard.type((dir_ / "ws").string());
  ASSERT_TRUE(wizard.expect("corral runner --config " + config.string())) << wizard.output();
  ASSERT_EQ(wizard.wait(10s), 0) << wizard.output();
  // Neither token was echoed or printed back; the other answers were echoed as typed.
  EXPECT_EQ(wizard.output().find(token_), std::string::npos) << wizard.output();
  EXPECT_EQ(wizard.output().find(wrong_token), std::string::npos) << wizard.output();
  EXPECT_NE(wizard.output().find("linux,wizard"), std::string::npos) << wizard.output();

  expect_mode_0600(config);
  auto settings = read_runner_config_file(config.string());
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  EXPECT_EQ(settings->at("RUNNER_TOKEN"), token_);
  EXPECT_EQ(settings->at("RUNNER_NAME"), "wizard-box");
  EXPECT_EQ(settings->at("RUNNER_EXECUTOR"), "shell");

  // The runner registers with the file: the labels it answered replace the check's none.
  Process runner({corral_binary(), "runner", "--config", config.string()}, {}, dir_ / "runner.log");
  json registered = wait_for_runner("wizard-box", [](const json& r) {
    return r["labels"].get<std::set<std::string>>() == std::set<std::string>{"linux", "wizard"} &&
           r["status"] != "offline";
  });
  EXPECT_FALSE(registered.is_null()) << runner.output();
  // The server lists the runner before the runner logs its answer: wait for the line.
  EXPECT_TRUE(wait_until(
      [&] {
        return runner.output().find("registered with " + server_->url()) != std::string::npos;
      },
      10s))
      << runner.output();
}

TEST_F(SetupWizardTest, RunnerInATerminalWithoutSettingsOffersTheSetupAndStarts) {
  std::ofstream(dir_ / ".env.example")
      << "# the project's example\nANTHROPIC_BASE_URL=http://127.0.0.1:9\n"
         "RUNNER_NAME=\n";
  PtyProcess runner({corral_binary(), "runner"}, {}, dir_);
  ASSERT_TRUE(runner.expect(
      "Missing: RUNNER_SERVER_URL, RUNNER_TOKEN, RUNNER_NAME, DOCKER_EXECUTOR_IMAGE."))
      << runner.output();
  ASSERT_TRUE(runner.expect("Run the setup now? [Y/n] ")) << runner.output();
  runner.type("");
  ASSERT_TRUE(runner.expect("(starting from ")) << runner.output();
  ASSERT_TRUE(runner.expect("Server URL")) << runner.output();
  runner.type(server_->url());
  ASSERT_TRUE(runner.expect("(typing is hidden): ")) << runner.output();
  runner.type(token_);
  ASSERT_TRUE(runner.expect("Runner name [")) << runner.output();
  runner.type("offered-box");
  ASSERT_TRUE(runner.expect("Registered as offered-box")) << runner.output();
  for (const char* prompt : {"Labels", "Jobs at once"}) {
    ASSERT_TRUE(runner.expect(prompt)) << runner.output();
    runner.type("");
  }
  ASSERT_TRUE(runner.expect("Executor")) << runner.output();
  runner.type("shell");
  ASSERT_TRUE(runner.expect("Workspace directory")) << runner.output();
  runner.type((dir_ / "ws").string());
  ASSERT_TRUE(runner.expect("corral runner --env-file .env")) << runner.output();
  ASSERT_TRUE(runner.expect("Starting the runner.")) << runner.output();
  ASSERT_TRUE(runner.expect("registered with " + server_->url())) << runner.output();
  EXPECT_EQ(runner.output().find(token_), std::string::npos) << runner.output();

  expect_mode_0600(dir_ / ".env");
  std::string env_text = wizard_read_file(dir_ / ".env");
  EXPECT_NE(env_text.find("# the project's example\nANTHROPIC_BASE_URL=http://127.0.0.1:9\n"),
            std::string::npos)
      << env_text;
  auto env = parse_env_text(env_text);
  EXPECT_EQ(env["RUNNER_NAME"], "offered-box");
  EXPECT_EQ(env["RUNNER_TOKEN"], token_);

  runner.signal(SIGTERM);
  EXPECT_EQ(runner.wait(15s), 0) << runner.output();
}

TEST_F(SetupWizardTest, RunnerWithoutATerminalExits2NamingEveryMissingSetting) {
  std::map<std::string, std::string> unset{{"RUNNER_SERVER_URL", ""},
                                           {"RUNNER_TOKEN", ""},
                                           {"RUNNER_NAME", ""},
                                           {"DOCKER_EXECUTOR_IMAGE", ""}};
  auto all = run_corral({"runner"}, unset);
  EXPECT_EQ(all.exit_code, 2) << all.err;
  for (const char* said :
       {"RUNNER_SERVER_URL (--server-url): is required", "RUNNER_TOKEN (--token): is required",
        "RUNNER_NAME (--name): is required",
        "DOCKER_EXECUTOR_IMAGE (--docker-executor-image): is required", "--env-file FILE",
        "`corral runner setup`"}) {
    EXPECT_NE(all.err.find(said), std::string::npos) << said << "\n" << all.err;
  }
  EXPECT_EQ(all.out.find("Run the setup now?"), std::string::npos) << all.out;

  // An env file gives some; the rest are named.
  std::ofstream(dir_ / "some.env")
      << "RUNNER_SERVER_URL=" << server_->url() << "\nRUNNER_EXECUTOR=shell\n";
  unset.erase("RUNNER_SERVER_URL");
  auto some = run_corral({"runner", "--env-file", (dir_ / "some.env").string()}, unset);
  EXPECT_EQ(some.exit_code, 2) << some.err;
  EXPECT_EQ(some.err.find("RUNNER_SERVER_URL"), std::string::npos) << some.err;
  EXPECT_EQ(some.err.find("DOCKER_EXECUTOR_IMAGE"), std::string::npos) << some.err;
  EXPECT_NE(some.err.find("RUNNER_TOKEN (--token): is required"), std::string::npos) << some.err;
}

// `setup` after an argument is Monk CI's NAME (or a later argument), not the wizard.
TEST_F(SetupWizardTest, MonkCiFormMayNameARunnerSetup) {
  Process runner(
      {corral_binary(), "runner", server_->url(), token_, "setup", "named setup", "linux"},
      {{"RUNNER_EXECUTOR", "shell"}, {"DOCKER_WORKSPACE_BASE", (dir_ / "ws").string()}},
      dir_ / "runner.log");
  json registered =
      wait_for_runner("setup", [](const json& r) { return r["status"] != "offline"; });
  ASSERT_FALSE(registered.is_null()) << runner.output();
  EXPECT_EQ(registered["description"], "named setup");
  EXPECT_EQ(registered["labels"], json::array({"linux"}));
}

}  // namespace
}  // namespace corral::testing

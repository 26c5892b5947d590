// Integration-test harness: starts the real `corral` binary in a temp dir and talks to it
// over HTTP with the real client. Waits are conditions with deadlines, never fixed sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "net/http_client.h"

namespace corral::testing {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Polls pred until it is true or the deadline passes; returns whether it became true. The
// interval starts at step and grows by half each miss, up to 100 ms (or step, if longer): a
// wait of seconds on the server's answers costs it a few dozen requests, not hundreds, and
// the suite's four tests side by side leave the CPU to what they test.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds step = std::chrono::milliseconds(10));

fs::path make_temp_dir(const std::string& prefix);

// The `corral` binary the tests start: $CORRAL_BINARY when set (the sanitized pass of
// scripts/test.sh runs this suite against build-asan/corral), else the one built beside it.
const std::string& corral_binary();
// Whether that binary is built with the sanitizers (CORRAL_BINARY_SANITIZED=1, which
// scripts/test.sh sets beside CORRAL_BINARY): it needs several times the CPU per request.
bool corral_binary_is_sanitized();

// A child process with its stdout+stderr captured in a file.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env, fs::path log_path,
          fs::path cwd = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit up to deadline; returns the exit status (or -1 on timeout).
  int wait(std::chrono::milliseconds deadline);
  void kill9();
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  fs::path log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the corral binary with args and env added to ours; waits for it.
CommandResult run_corral(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& stdin_data = "");

class ServerProcess {
 public:
  // `args` go after `corral server --listen ... --data-dir ...`.
  explicit ServerProcess(std::map<std::string, std::string> env = {}, fs::path data_dir = {},
                         std::vector<std::string> args = {});
  ~ServerProcess();

  void start();
  void kill9();
  int stop();  // SIGTERM and wait; returns the exit status (-1 if it did not exit)
  const std::string& url() const { return url_; }
  const std::string& admin_token() const { return admin_token_; }
  const fs::path& data_dir() const { return data_dir_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::string log() const { return process_ ? process_->output() : ""; }
  // The registration token of the runner with this name, made on first use: a runner that
  // restarts comes back with the token it first registered with (docs/security.md).
  const std::string& registration_token(const std::string& runner_name);

 private:
  std::map<std::string, std::string> env_;
  fs::path data_dir_;
  std::vector<std::string> args_;
  bool own_dir_ = false;
  int generation_ = 0;
  std::unique_ptr<Process> process_;
  std::string url_;
  std::string admin_token_;
  std::map<std::string, std::string> registration_tokens_;
};

// A JSON-speaking client of the API with one token.
class Api {
 public:
  Api(const std::string& url, const std::string& token);
  HttpResponse request(http::verb method, const std::string& target, const std::string& body = "",
                       std::vector<std::pair<std::string, std::string>> headers = {});
  json get(const std::string& target, int expect_status = 200);
  json post(const std::string& target, const json& body, int expect_status = 200);
  json del(const std::string& target, int expect_status = 200);
  void set_token(const std::string& token) { http_.set_token(token); }

 private:
  SyncHttpClient http_;
};

// A token of the given kind in a tenant, made with the admin token.
std::string create_token(ServerProcess& server, const std::string& kind,
                         const std::string& tenant = "default", const std::string& name = "test");

// A runner speaking the protocol by hand (the tests' stand-in for `corral runner`).
struct TestRunner {
  std::string id;
  std::string secret;
  std::unique_ptr<Api> api;

  static TestRunner register_with(ServerProcess& server, const std::string& registration_token,
                                  json body);
  json claim(int wait_ms = 0, int slots = 1);
  json heartbeat(const json& running = json::array());
  HttpResponse start(const std::string& job_id, int attempt);
  HttpResponse log(const std::string& job_id, int attempt, int64_t offset, const std::string& data);
  HttpResponse finish(const std::string& job_id, int attempt, const json& report);
};

// Waits until the job is in one of the states; returns the job (last seen).
json wait_for_job(Api& api, const std::string& id, const std::set<std::string>& states,
                  std::chrono::milliseconds deadline = std::chrono::seconds(60));

// `corral runner` as a child process, registered and idle when the constructor returns.
class RunnerProcess {
 public:
  // env adds to (and overrides) the defaults: docker executor with the test image,
  // DOCKER_HOST from the environment, a private workspace base.
  // binary: the corral executable to run (default corral_binary()).
  RunnerProcess(ServerProcess& server, const std::string& name,
                std::map<std::string, std::string> env = {}, const fs::path& binary = {});
  ~RunnerProcess();

  const std::string& id() const { return id_; }
  const fs::path& workspace_base() const { return workspace_base_; }
  Process& process() { return *process_; }
  std::string log() const { return process_->output(); }

 private:
  fs::path dir_;
  fs::path workspace_base_;
  std::unique_ptr<Process> process_;
  std::string id_;
};

// The container engine the runner tests use; empty when DOCKER_HOST is unset.
std::string docker_host();
inline constexpr const char* kTestImage = "localhost/corral-test:latest";
// Containers (any state) carrying the label, counted through the Engine API.
int count_containers(const std::string& label_filter);
// ... carrying every one of the labels.
int count_containers(const std::vector<std::string>& label_filters);

}  // namespace corral::testing

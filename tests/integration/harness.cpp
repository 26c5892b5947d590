#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace corral::testing {

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds step) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  const auto longest = std::max(step, std::chrono::milliseconds(100));
  auto interval = step;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        interval, end - std::chrono::steady_clock::now()));
    interval = std::min(interval * 3 / 2 + std::chrono::milliseconds(1), longest);
  }
  return pred();
}

const std::string& corral_binary() {
  static const std::string binary = [] {
    const char* chosen = std::getenv("CORRAL_BINARY");
    return std::string(chosen != nullptr && *chosen != '\0' ? chosen : CORRAL_BINARY);
  }();
  return binary;
}

bool corral_binary_is_sanitized() {
  const char* flag = std::getenv("CORRAL_BINARY_SANITIZED");
  return flag != nullptr && std::string_view(flag) == "1";
}

fs::path make_temp_dir(const std::string& prefix) {
  std::random_device rd;
  auto dir = fs::temp_directory_path() / (prefix + "-" + std::to_string(rd()));
  fs::create_directories(dir);
  return dir;
}

namespace {
std::vector<std::string> merged_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 fs::path log_path, fs::path cwd)
    : log_path_(std::move(log_path)) {
  auto env_strings = merged_env(env);
  auto envp = c_strings(env_strings);
  auto args = c_strings(argv);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + strerror(rc));
}

Process::~Process() {
  if (running()) {
    signal(SIGTERM);
    if (wait(std::chrono::seconds(10)) == -1) kill9();
  }
}

bool Process::running() {
  if (exited_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

int Process::wait(std::chrono::milliseconds deadline) {
  if (!wait_until([&] { return !running(); }, deadline, std::chrono::milliseconds(5))) return -1;
  return status_;
}

void Process::kill9() {
  signal(SIGKILL);
  wait(std::chrono::seconds(10));
}

std::string Process::output() const {
  return read_file(log_path_);
}

CommandResult run_corral(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env,
                         const std::string& stdin_data) {
  auto dir = make_temp_dir("corral-cli");
  std::vector<std::string> argv{corral_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto env_strings = merged_env(env);
  auto envp = c_strings(env_strings);
  auto cargs = c_strings(argv);
  auto in_path = dir / "in", out_path = dir / "out", err_path = dir / "err";
  std::ofstream(in_path) << stdin_data;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  CommandResult result;
  if (rc != 0) return result;
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  fs::remove_all(dir);
  return result;
}

ServerProcess::ServerProcess(std::map<std::string, std::string> env, fs::path data_dir,
                             std::vector<std::string> args)
    : env_(std::move(env)), data_dir_(std::move(data_dir)), args_(std::move(args)) {
  if (data_dir_.empty()) {
    data_dir_ = make_temp_dir("corral-server");
    own_dir_ = true;
  }
  start();
}

ServerProcess::~ServerProcess() {
  process_.reset();
  if (own_dir_ && !::testing::Test::HasFailure()) fs::remove_all(data_dir_);
}

void ServerProcess::start() {
  fs::remove(data_dir_ / "server.url");
  auto log = data_dir_ / ("server-" + std::to_string(generation_++) + ".log");
  // A restart comes back at the same address, as a real server would, so clients can resume.
  std::string listen = url_.empty() ? "127.0.0.1:0" : url_.substr(url_.find("//") + 2);
  std::vector<std::string> argv{corral_binary(), "server",     "--listen",
                                listen,          "--data-dir", data_dir_.string()};
  argv.insert(argv.end(), args_.begin(), args_.end());
  process_ = std::make_unique<Process>(argv, env_, log);
  bool up = wait_until(
      [&] {
        std::ifstream in(data_dir_ / "server.url");
        std::string line;
        return static_cast<bool>(std::getline(in, line)) && !line.empty();
      },
      std::chrono::seconds(20));
  if (!up) throw std::runtime_error("corral server did not start: " + process_->output());
  std::ifstream(data_dir_ / "server.url") >> url_;
  if (env_.count("CORRAL_ADMIN_TOKEN"))
    admin_token_ = env_["CORRAL_ADMIN_TOKEN"];
  else
    std::ifstream(data_dir_ / "admin.token") >> admin_token_;
}

void ServerProcess::kill9() {
  process_->kill9();
}

int ServerProcess::stop() {
  process_->signal(SIGTERM);
  return process_->wait(std::chrono::seconds(10));
}

Api::Api(const std::string& url, const std::string& token) : http_(*Endpoint::parse(url), token) {}

HttpResponse Api::request(http::verb method, const std::string& target, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.headers = std::move(headers);
  auto res = http_.request(std::move(req));
  if (!res.ok()) throw std::runtime_error("request failed: " + res.error().message);
  return *res;
}

namespace {
json expect_json(const HttpResponse& res, int expect_status, const std::string& what) {
  EXPECT_EQ(res.status, expect_status) << what << " -> " << res.body;
  if (res.body.empty()) return json::object();
  return json::parse(res.body);
}
}  // namespace

json Api::get(const std::string& target, int expect_status) {
  return expect_json(request(http::verb::get, target), expect_status, "GET " + target);
}

json Api::post(const std::string& target, const json& body, int expect_status) {
  return expect_json(request(http::verb::post, target, body.dump()), expect_status,
                     "POST " + target);
}

json Api::del(const std::string& target, int expect_status) {
  return expect_json(request(http::verb::delete_, target), expect_status, "DELETE " + target);
}

std::string create_token(ServerProcess& server, const std::string& kind, const std::string& tenant,
                         const std::string& name) {
  Api admin(server.url(), server.admin_token());
  auto t = admin.post("/api/v1/tokens", {{"kind", kind}, {"tenant", tenant}, {"name", name}}, 201);
  return t["token"].get<std::string>();
}

const std::string& ServerProcess::registration_token(const std::string& runner_name) {
  auto it = registration_tokens_.find(runner_name);
  if (it == registration_tokens_.end()) {
    it =
        registration_tokens_
            .emplace(runner_name, create_token(*this, "runner", "default", "runner-" + runner_name))
            .first;
  }
  return it->second;
}

TestRunner TestRunner::register_with(ServerProcess& server, const std::string& registration_token,
                                     json body) {
  Api api(server.url(), registration_token);
  auto reg = api.post("/api/v1/runners/register", body);
  TestRunner r;
  r.id = reg["runner_id"].get<std::string>();
  r.secret = reg["secret"].get<std::string>();
  r.api = std::make_unique<Api>(server.url(), r.secret);
  return r;
}

json TestRunner::claim(int wait_ms, int slots) {
  return api->post("/api/v1/runners/" + id + "/claim", {{"wait_ms", wait_ms}, {"slots", slots}});
}

json TestRunner::heartbeat(const json& running) {
  return api->post("/api/v1/runners/" + id + "/heartbeat", {{"running", running}});
}

HttpResponse TestRunner::start(const std::string& job_id, int attempt) {
  return api->request(http::verb::post,
                      "/api/v1/jobs/" + job_id + "/attempts/" + std::to_string(attempt) + "/start");
}

HttpResponse TestRunner::log(const std::string& job_id, int attempt, int64_t offset,
                             const std::string& data) {
  return api->request(http::verb::post,
                      "/api/v1/jobs/" + job_id + "/attempts/" + std::to_string(attempt) +
                          "/logs?offset=" + std::to_string(offset),
                      data, {{"Content-Type", "application/octet-stream"}});
}

HttpResponse TestRunner::finish(const std::string& job_id, int attempt, const json& report) {
  return api->request(http::verb::post,
                      "/api/v1/jobs/" + job_id + "/attempts/" + std::to_string(attempt) + "/finish",
                      report.dump());
}

json wait_for_job(Api& api, const std::string& id, const std::set<std::string>& states,
                  std::chrono::milliseconds deadline) {
  json job;
  wait_until(
      [&] {
        job = api.get("/api/v1/jobs/" + id);
        return states.count(job["state"].get<std::string>()) > 0;
      },
      deadline, std::chrono::milliseconds(20));
  return job;
}

std::string docker_host() {
  const char* host = std::getenv("DOCKER_HOST");
  return host ? host : "";
}

RunnerProcess::RunnerProcess(ServerProcess& server, const std::string& name,
                             std::map<std::string, std::string> env, const fs::path& binary) {
  dir_ = make_temp_dir("corral-runner");
  workspace_base_ = dir_ / "workspaces";
  std::map<std::string, std::string> full{
      {"RUNNER_SERVER_URL", server.url()},
      {"RUNNER_TOKEN", server.registration_token(name)},
      {"RUNNER_NAME", name},
      {"RUNNER_POLL_TIMEOUT_MS", "10000"},
      {"RUNNER_STOP_GRACE_S", "2"},
      // Tests clone local repositories (file:// URLs); a real runner refuses them by default.
      {"RUNNER_ALLOW_LOCAL_REPOS", "true"},
      {"DOCKER_EXECUTOR_IMAGE", kTestImage},
      {"DOCKER_HOST", docker_host()},
      {"DOCKER_WORKSPACE_BASE", workspace_base_.string()},
      {"DOCKER_PULL_POLICY", "never"},
      // Jobs get no network unless a test asks for one (its env, or the job's "network"): a
      // container on the engine's bridge costs Podman's CNI plugins about a dozen iptables
      // runs to set up and take down, the largest cost of the suite after the containers
      // themselves. The tests of networking and of jobs that reach a service on the host
      // (agents, pushes) set DOCKER_NETWORK_MODE themselves.
      {"DOCKER_NETWORK_MODE", "none"},
  };
  for (const auto& [k, v] : env) full[k] = v;
  process_ = std::make_unique<Process>(
      std::vector<std::string>{binary.empty() ? corral_binary() : binary.string(), "runner"}, full,
      dir_ / "runner.log");
  Api api(server.url(), server.admin_token());
  bool up = wait_until(
      [&] {
        json listed = api.get("/api/v1/runners");
        for (const auto& r : listed["runners"]) {
          if (r["name"] == name && r["status"] != "offline") {
            id_ = r["id"];
            return true;
          }
        }
        return !process_->running();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(20));
  if (!up || id_.empty()) {
    throw std::runtime_error("runner " + name + " did not register: " + process_->output() +
                             "\nrunners: " + api.get("/api/v1/runners").dump());
  }
}

RunnerProcess::~RunnerProcess() {
  process_.reset();
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
}

int count_containers(const std::string& label_filter) {
  return count_containers(std::vector<std::string>{label_filter});
}

int count_containers(const std::vector<std::string>& label_filters) {
  auto endpoint = Endpoint::parse(docker_host());
  if (!endpoint.ok()) return -1;
  SyncHttpClient engine(*endpoint);
  json filters{{"label", label_filters}};
  auto res = engine.get("/v1.41/containers/json?all=1&filters=" + url_encode(filters.dump()));
  if (!res.ok() || res->status != 200) return -1;
  return static_cast<int>(json::parse(res->body).size());
}

}  // namespace corral::testing

// Issue 14, runner side: a hostile job cannot escape its limits, leak the runner's
// credentials or wedge the runner. Through the real `corral runner`, real Podman, real git
// and stand-in servers written here (plain sockets).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "harness.h"
#include "net/endpoint.h"
#include "runner/workspace.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// A stand-in git server on 127.0.0.1 written with plain sockets. In `ask_for_password` mode
// it answers every request 401 with `WWW-Authenticate: Basic` and records whether the
// request carried an Authorization header; in `tarpit` mode it never accepts, so a client
// connects (the kernel's backlog) and then waits for an answer that never comes.
class StandInGitServer {
 public:
  enum class Mode { kAskForPassword, kTarpit };
  explicit StandInGitServer(Mode mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (mode == Mode::kAskForPassword) thread_ = std::thread([this] { serve(); });
  }
  ~StandInGitServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "/o/r.git") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_; }
  int with_authorization() const { return with_authorization_; }

 private:
  void serve() {
    while (!stopping_) {
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      std::string lower = request;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ++requests_;
      if (lower.find("\r\nauthorization:") != std::string::npos) ++with_authorization_;
      std::string answer =
          "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(client, answer.data(), answer.size());
      ::close(client);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> with_authorization_{0};
  std::thread thread_;
};

// The engine's view of the (only) container of a job: GET /containers/{id}/json.
json inspect_job_container(const std::string& job_id) {
  auto endpoint = Endpoint::parse(docker_host());
  if (!endpoint.ok()) return json();
  SyncHttpClient engine(*endpoint);
  json filters{{"label", {"corral.job=" + job_id}}};
  auto listed = engine.get("/v1.41/containers/json?all=1&filters=" + url_encode(filters.dump()));
  if (!listed.ok() || listed->status != 200) return json();
  auto list = json::parse(listed->body);
  if (list.size() != 1) return json();
  auto inspected = engine.get("/v1.41/containers/" + list[0]["Id"].get<std::string>() + "/json");
  if (!inspected.ok() || inspected->status != 200) return json();
  return json::parse(inspected->body);
}

// A git repository with one commit of version.txt, for clones.
fs::path make_repo() {
  auto repo = make_temp_dir("corral-hrepo");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"init", "-q", "-b", "main"}, std::vector<std::string>{"add", "."},
        std::vector<std::string>{"commit", "-q", "-m", "first"}}) {
    if (args[0] == "add") std::ofstream(repo / "version.txt") << "first\n";
    args.insert(args.begin(), {"git", "-c", "user.email=t@example.com", "-c", "user.name=t"});
    auto out = run_command(args, {}, repo);
    EXPECT_TRUE(out.ok() && out->exit_code == 0) << (out.ok() ? out->output : out.error().message);
  }
  return repo;
}

class RunnerHardening : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty()) {
      GTEST_SKIP()
          << "DOCKER_HOST is not set: run through scripts/test.sh, which starts Podman's service";
    }
    server_ = std::make_unique<ServerProcess>();
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  void TearDown() override {
    runners_.clear();
    server_.reset();
  }
  RunnerProcess& start_runner(const std::string& name,
                              std::map<std::string, std::string> env = {}) {
    runners_.push_back(std::make_unique<RunnerProcess>(*server_, name, std::move(env)));
    return *runners_.back();
  }
  std::string submit(json spec) { return api_->post("/api/v1/jobs", spec, 201)["id"]; }
  std::string log_of(const std::string& id) {
    return api_->request(http::verb::get, "/api/v1/jobs/" + id + "/logs").body;
  }
  json finished(const std::string& id, std::chrono::milliseconds deadline = 60s) {
    return wait_for_job(*api_, id, {"succeeded", "failed", "canceled"}, deadline);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::vector<std::unique_ptr<RunnerProcess>> runners_;
};

TEST_F(RunnerHardening, AHostileResultFileIsIgnoredAndTheRunnerStaysHealthy) {
  auto& runner = start_runner("result-file", {{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  // A readable JSON file of the runner host: a link to it must not become the job's result.
  auto host_dir = make_temp_dir("corral-hostfile");
  std::ofstream(host_dir / "result.json") << "{\"host_secret\": \"do-not-publish\"}";
  const std::string host_file = (host_dir / "result.json").string();
  struct Case {
    std::string what, script;
  };
  // The FIFO first: before the fix it blocked the runner's I/O thread for good, so nothing
  // after it ran (the /dev/zero case would then have eaten the runner's memory).
  std::vector<Case> cases{
      {"fifo", "mkdir -p .corral && mkfifo .corral/result.json && ls -l .corral"},
      {"dev-zero", "mkdir -p .corral && ln -s /dev/zero .corral/result.json"},
      {"host-file", "mkdir -p .corral && ln -s " + host_file + " .corral/result.json"},
      {"linked-dir", "ln -s " + host_dir.string() + " .corral"},
      {"too-big",
       "mkdir -p .corral && { printf '\"'; head -c 300000 /dev/zero | tr '\\0' a; printf '\"'; } > "
       ".corral/result.json"},
  };
  for (const auto& c : cases) {
    auto t0 = std::chrono::steady_clock::now();
    std::string id = submit({{"name", c.what}, {"script", c.script}});
    auto job = finished(id, 30s);
    std::string log = log_of(id);
    EXPECT_EQ(job["state"], "succeeded") << c.what << "\n" << log << "\n" << runner.log();
    EXPECT_TRUE(job["result"].is_null()) << c.what << ": " << job["result"].dump();
    EXPECT_NE(log.find("corral: ignored .corral/result.json: "), std::string::npos)
        << c.what << "\n"
        << log;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s) << c.what;
  }
  // The runner is still alive and well: it heartbeats, and the next job runs and publishes
  // a real result.
  auto runner_info = api_->get("/api/v1/runners/" + runner.id());
  std::string beat = runner_info["last_heartbeat_at"].get<std::string>();
  EXPECT_TRUE(wait_until(
      [&] {
        return api_->get("/api/v1/runners/" + runner.id())["last_heartbeat_at"]
                   .get<std::string>() != beat;
      },
      10s));
  EXPECT_NE(api_->get("/api/v1/runners/" + runner.id())["status"], "offline");
  std::string good =
      submit({{"script", "mkdir -p .corral && echo '{\"ok\": true}' > .corral/result.json"}});
  auto job = finished(good);
  EXPECT_EQ(job["state"], "succeeded") << log_of(good);
  EXPECT_EQ(job["result"], json({{"ok", true}})) << log_of(good);
  EXPECT_TRUE(runner.process().running());
  fs::remove_all(host_dir);
}

TEST_F(RunnerHardening, ANetworkOrImageTheRunnerDoesNotAllowFailsAtOnceWithReasonPolicy) {
  auto& runner = start_runner("policy", {{"DOCKER_ALLOWED_IMAGES", "localhost/corral-test:*"}});
  auto t0 = std::chrono::steady_clock::now();
  std::string host_net =
      submit({{"script", "echo should-not-run"}, {"network", "host"}, {"max_attempts", 3}});
  std::string container_net =
      submit({{"script", "echo should-not-run"}, {"network", "corral-other-net"}});
  std::string image =
      submit({{"script", "echo should-not-run"}, {"image", "docker.io/library/alpine:3.20"}});
  for (const auto& [id, setting] :
       std::vector<std::pair<std::string, std::string>>{{host_net, "DOCKER_ALLOWED_NETWORKS"},
                                                        {container_net, "DOCKER_ALLOWED_NETWORKS"},
                                                        {image, "DOCKER_ALLOWED_IMAGES"}}) {
    auto job = finished(id);
    std::string log = log_of(id);
    EXPECT_EQ(job["state"], "failed") << log;
    EXPECT_EQ(job["reason"], "policy") << log;
    EXPECT_EQ(job["attempts"].size(), 1u) << "a policy failure is never retried";
    EXPECT_NE(log.find("corral: refused by this runner's policy"), std::string::npos) << log;
    EXPECT_NE(log.find(setting), std::string::npos) << log;
    EXPECT_EQ(log.find("should-not-run\n"), std::string::npos) << log;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  // What the lists allow runs: network none, and an image matching the pattern.
  std::string fine =
      submit({{"script", "echo allowed"}, {"network", "none"}, {"image", kTestImage}});
  EXPECT_EQ(finished(fine)["state"], "succeeded") << log_of(fine);
  // The server shows the runner's policy.
  auto policy = api_->get("/api/v1/runners/" + runner.id())["capabilities"]["policy"];
  EXPECT_EQ(policy["allowed_networks"], json({"none", "bridge"})) << policy.dump();
  EXPECT_EQ(policy["allowed_images"], json({"localhost/corral-test:*"})) << policy.dump();
  EXPECT_EQ(policy["memory_bytes"], int64_t{4} << 30) << policy.dump();
  EXPECT_GT(policy["cpus"].get<double>(), 0) << policy.dump();
  EXPECT_EQ(policy["pids_limit"], 1024) << policy.dump();
  EXPECT_EQ(policy["read_only_rootfs"], false) << policy.dump();
  EXPECT_EQ(policy["allow_local_repos"], true) << policy.dump();  // the harness allows them
}

TEST_F(RunnerHardening, DefaultLimitsApplyWhenTheOperatorSetNone) {
  start_runner("defaults");
  std::string id = submit({{"script", "echo up; sleep 60"}});
  ASSERT_TRUE(wait_until([&] { return log_of(id).find("up") != std::string::npos; }, 30s))
      << log_of(id);
  auto inspected = inspect_job_container(id);
  ASSERT_TRUE(inspected.is_object());
  const auto& host = inspected["HostConfig"];
  EXPECT_EQ(host["Memory"], int64_t{4} << 30) << host.dump();
  EXPECT_EQ(host["NanoCpus"],
            static_cast<int64_t>(std::thread::hardware_concurrency()) * 1'000'000'000)
      << host.dump();
  EXPECT_EQ(host["PidsLimit"], 1024) << host.dump();
  api_->post("/api/v1/jobs/" + id + "/cancel", json::object());
  finished(id);
}

TEST_F(RunnerHardening, ANonRootUserOnAReadOnlyRootCanStillWriteTheWorkspaceAndTmp) {
  auto repo = make_repo();
  start_runner("non-root", {{"DOCKER_USER", "1000:1000"}, {"DOCKER_READ_ONLY_ROOTFS", "true"}});
  std::string id =
      submit({{"script",
               "echo \"uid=$(id -u) gid=$(id -g)\"\n"
               "echo made > /workspace/made.txt && cat made.txt\n"
               "echo changed >> version.txt && echo clone-writable\n"
               "mkdir -p .corral && echo '{\"as\": \"1000\"}' > .corral/result.json\n"
               "touch /rootfile 2>/dev/null && echo root-writable || echo root-read-only\n"
               "echo t > /tmp/t && echo tmp-writable\n"},
              {"repo", {{"url", "file://" + repo.string()}}}});
  auto job = finished(id);
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded") << log;
  EXPECT_NE(log.find("uid=1000 gid=1000"), std::string::npos) << log;
  EXPECT_NE(log.find("made\n"), std::string::npos) << log;
  EXPECT_NE(log.find("clone-writable"), std::string::npos) << log;
  EXPECT_NE(log.find("root-read-only"), std::string::npos) << log;
  EXPECT_EQ(log.find("root-writable"), std::string::npos) << log;
  EXPECT_NE(log.find("tmp-writable"), std::string::npos) << log;
  EXPECT_EQ(job["result"], json({{"as", "1000"}}));
  fs::remove_all(repo);
}

TEST_F(RunnerHardening, GitCredentialsNeverGoToAHostOffTheListOrOverPlainHttp) {
  StandInGitServer listed(StandInGitServer::Mode::kAskForPassword);
  StandInGitServer unlisted(StandInGitServer::Mode::kAskForPassword);
  start_runner("git-hosts", {{"RUNNER_GIT_TOKEN", "runner-t0ken-abc"},
                             {"RUNNER_GIT_HOSTS",
                              "git.example.com,127.0.0.1:" + std::to_string(listed.port())}});
  // The runner's token to a host not on RUNNER_GIT_HOSTS; the job's own token to a listed
  // host, but over http.
  std::string off_list =
      submit({{"script", "true"}, {"repo", {{"url", unlisted.url()}}}, {"max_attempts", 1}});
  std::string plain_http = submit({{"script", "true"},
                                   {"repo", {{"url", listed.url()}}},
                                   {"max_attempts", 1},
                                   {"secrets", {{"CORRAL_GIT_TOKEN", "job-t0ken-xyz"}}}});
  for (const auto& id : {off_list, plain_http}) {
    auto job = finished(id);
    EXPECT_EQ(job["state"], "failed") << log_of(id);
    EXPECT_EQ(job["reason"], "clone") << log_of(id);
  }
  EXPECT_GE(unlisted.requests(), 1);  // git did ask...
  EXPECT_GE(listed.requests(), 1);
  EXPECT_EQ(unlisted.with_authorization(), 0);  // ... and was never given a password
  EXPECT_EQ(listed.with_authorization(), 0);
}

TEST_F(RunnerHardening, ATarpitCloneIsCutOffAtTheTimeoutWhileAnotherJobFinishes) {
  StandInGitServer tarpit(StandInGitServer::Mode::kTarpit);
  auto& runner = start_runner("tarpit", {{"RUNNER_MAX_CONCURRENT_JOBS", "2"},
                                         // 10 s: the other job must finish first also under ASan
                                         {"RUNNER_CLONE_TIMEOUT_S", "10"},
                                         {"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  auto t0 = std::chrono::steady_clock::now();
  std::string stuck =
      submit({{"script", "true"}, {"repo", {{"url", tarpit.url()}}}, {"max_attempts", 1}});
  ASSERT_TRUE(wait_until([&] { return log_of(stuck).find("cloning") != std::string::npos; }, 30s));
  std::string quick = submit({{"script", "echo quick"}});
  auto q = finished(quick);
  EXPECT_EQ(q["state"], "succeeded") << log_of(quick);
  EXPECT_NE(api_->get("/api/v1/jobs/" + stuck)["state"], "failed")
      << "the other job finished while the clone hung";
  auto s = finished(stuck);
  std::string log = log_of(stuck);
  EXPECT_EQ(s["state"], "failed") << log;
  EXPECT_EQ(s["reason"], "clone") << log;
  EXPECT_NE(log.find("timed out after 10s"), std::string::npos) << log;
  EXPECT_NE(log.find("RUNNER_CLONE_TIMEOUT_S"), std::string::npos) << log;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  // Still healthy: two slots free again, the next job runs.
  std::string after = submit({{"script", "echo after"}});
  EXPECT_EQ(finished(after)["state"], "succeeded") << runner.log();
}

TEST_F(RunnerHardening, CancelingAJobKillsItsHangingClone) {
  StandInGitServer tarpit(StandInGitServer::Mode::kTarpit);
  start_runner("tarpit-cancel", {{"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});  // clone timeout: 600 s
  std::string stuck = submit({{"script", "true"}, {"repo", {{"url", tarpit.url()}}}});
  ASSERT_TRUE(wait_until([&] { return log_of(stuck).find("cloning") != std::string::npos; }, 30s));
  auto t0 = std::chrono::steady_clock::now();
  api_->post("/api/v1/jobs/" + stuck + "/cancel", json::object());
  std::string next = submit({{"script", "echo next"}});
  EXPECT_EQ(finished(stuck, 20s)["state"], "canceled");
  EXPECT_EQ(finished(next, 30s)["state"], "succeeded") << "the slot came back";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

TEST_F(RunnerHardening, LocalRepositoriesAndOtherTransportsAreRefusedUnlessAllowed) {
  auto repo = make_repo();
  start_runner("no-local", {{"RUNNER_ALLOW_LOCAL_REPOS", "false"}});
  std::string file_url =
      submit({{"script", "cat version.txt"}, {"repo", {{"url", "file://" + repo.string()}}}});
  std::string path = submit({{"script", "cat version.txt"}, {"repo", {{"url", repo.string()}}}});
  std::string ext =
      submit({{"script", "true"}, {"repo", {{"url", "ext::sh -c touch% /tmp/corral-pwned"}}}});
  for (const auto& id : {file_url, path}) {
    auto job = finished(id);
    std::string log = log_of(id);
    EXPECT_EQ(job["reason"], "policy") << log;
    EXPECT_NE(log.find("RUNNER_ALLOW_LOCAL_REPOS"), std::string::npos) << log;
    EXPECT_EQ(log.find("first"), std::string::npos) << log;
  }
  EXPECT_EQ(finished(ext)["reason"], "policy") << log_of(ext);
  fs::remove_all(repo);
}

TEST_F(RunnerHardening, TheLogSpoolStopsAtItsCapAndTheJobKeepsRunning) {
  start_runner("log-cap", {{"RUNNER_LOG_MAX_BYTES", "64k"}});
  std::string id =
      submit({{"script",
               "yes 0123456789012345678901234567890123456789 | head -c 1000000\n"
               "mkdir -p .corral && echo '{\"kept\": \"running\"}' > .corral/result.json\n"}});
  auto job = finished(id);
  std::string log = log_of(id);
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["result"], json({{"kept", "running"}}));
  EXPECT_LE(log.size(), 64u * 1024 + 200) << log.size();
  EXPECT_GE(log.size(), 64u * 1024);
  EXPECT_NE(log.find("[corral] log truncated"), std::string::npos)
      << log.substr(log.size() > 300 ? log.size() - 300 : 0);
  EXPECT_NE(log.find("RUNNER_LOG_MAX_BYTES"), std::string::npos);
}

}  // namespace
}  // namespace corral::testing

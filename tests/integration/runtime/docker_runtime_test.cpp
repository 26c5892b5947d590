// DockerRuntime against a real engine: the Podman (or Docker) service named by DOCKER_HOST.
// Skipped, with instructions, when DOCKER_HOST is unset. Set up with:
//
//   eval "$(scripts/podman-service.sh start /tmp/corral-podman)"
//   scripts/make-test-image.sh            # localhost/corral-test:latest (busybox)
//
// Every container a test makes carries a label unique to that test, and TearDown removes
// them all. Waits are conditions with deadlines: a test reacts to the output it sees.
#include "runtime/docker/docker_runtime.h"

#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "runtime/docker/engine_api.h"
#include "unit/runtime/coro_test_util.h"

namespace corral {
namespace {

using testing::run_coro;
using testing::run_until;
using namespace std::chrono_literals;
using nlohmann::json;

std::string test_image() {
  const char* image = std::getenv("CORRAL_TEST_IMAGE");
  return image && *image ? image : "localhost/corral-test:latest";
}

// The first non-loopback IPv4 address of this host, or 127.0.0.1.
std::string host_ipv4() {
  ifaddrs* addrs = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&addrs) != 0) return found;
  for (ifaddrs* a = addrs; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    auto ip = asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
    if (ip.is_loopback()) continue;
    found = ip.to_string();
    break;
  }
  freeifaddrs(addrs);
  return found;
}

// Answers every HTTP request on acceptor with "hello-from-host".
awaitable<void> serve_hello(tcp::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    std::string request;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n",
                                    asio::redirect_error(use_awaitable, ec));
    std::string answer = "HTTP/1.0 200 OK\r\nContent-Length: 15\r\n\r\nhello-from-host";
    co_await asio::async_write(socket, asio::buffer(answer),
                               asio::redirect_error(use_awaitable, ec));
    socket.close(ec);
  }
}

struct RunOutcome {
  std::string id;
  Result<ExitStatus> status;
  std::string output;
};

class DockerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* host = std::getenv("DOCKER_HOST");
    if (!host || !*host) {
      GTEST_SKIP() << "DOCKER_HOST is not set, so there is no container engine to test against. "
                      "Start one with: eval \"$(scripts/podman-service.sh start "
                      "/tmp/corral-podman)\" && scripts/make-test-image.sh";
    }
    DockerConfig config;
    config.host = host;
    auto opened = DockerRuntime::open(io_.get_executor(), config);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    runtime_ = std::move(opened.value());
    auto present = run_coro(io_, runtime_->ensure_image(test_image(), PullPolicy::kNever));
    ASSERT_TRUE(present.ok()) << present.error().message
                              << " -- build the test image with scripts/make-test-image.sh";
    run_label_value_ = "t" + random_hex(6);
  }

  void TearDown() override {
    if (!runtime_) return;
    auto left = run_coro(io_, runtime_->list(run_label()));
    if (!left.ok()) return;
    for (const auto& c : left.value()) (void)run_coro(io_, runtime_->remove(c.id));
  }

  std::string run_label() const { return "corral.test-run=" + run_label_value_; }

  ContainerSpec spec(std::string script) {
    ContainerSpec s;
    s.image = test_image();
    s.command = {"sh", "-c", std::move(script)};
    s.working_dir = "/";
    s.network_mode = "none";
    s.labels = {{"corral.test-run", run_label_value_}, {"corral.runner", "runner_itest"}};
    return s;
  }

  std::string create(const ContainerSpec& s) {
    auto id = run_coro(io_, runtime_->create(s));
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? id.value() : std::string();
  }

  RunOutcome run_to_end(const ContainerSpec& s) {
    RunOutcome outcome;
    outcome.id = create(s);
    outcome.status = run_coro(io_, runtime_->run(outcome.id, [&](std::string_view piece) {
      outcome.output.append(piece);
    }));
    return outcome;
  }

  // Lines of text that start with prefix, in order.
  static std::vector<std::string> lines_with(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      if (line.rfind(prefix, 0) == 0) out.push_back(line);
      pos = end + 1;
    }
    return out;
  }

  asio::io_context io_;
  std::unique_ptr<DockerRuntime> runtime_;
  std::string run_label_value_;
};

TEST_F(DockerRuntimeTest, InfoNamesTheEngine) {
  auto info = run_coro(io_, runtime_->info());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_FALSE(info->name.empty());
  EXPECT_FALSE(info->version.empty());
  EXPECT_FALSE(info->api_version.empty());
  EXPECT_TRUE(run_coro(io_, runtime_->ping()).ok());

  // What it says is what the engine's own GET /version says (info reads Podman's /_ping
  // headers instead, which cost the engine nothing).
  auto endpoint = Endpoint::parse(std::getenv("DOCKER_HOST"));
  ASSERT_TRUE(endpoint.ok());
  SyncHttpClient engine(endpoint.value());
  auto version = engine.get("/version");
  ASSERT_TRUE(version.ok()) << version.error().message;
  auto expected = docker_api::parse_version(version->body);
  ASSERT_TRUE(expected.ok()) << version->body;
  EXPECT_EQ(info->name, expected->name);
  EXPECT_EQ(info->version, expected->version);
  EXPECT_EQ(info->api_version, expected->api_version);
  EXPECT_EQ(info->os, expected->os);
  if (!info->arch.empty()) {
    EXPECT_EQ(info->arch, expected->arch);
  }
}

TEST_F(DockerRuntimeTest, StdoutAndStderrArriveComplete) {
  // stdout and stderr reach the engine through separate pipes: each stream keeps its
  // order, but writes to both in quick succession may be read in either order.
  auto outcome = run_to_end(spec("for i in 1 2 3 4 5 6 7 8; do echo out$i; echo err$i >&2; done"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_EQ(outcome.status->exit_code, 0);
  EXPECT_EQ(outcome.output.size(), 8u * 5 * 2);
  EXPECT_EQ(
      lines_with(outcome.output, "out"),
      (std::vector<std::string>{"out1", "out2", "out3", "out4", "out5", "out6", "out7", "out8"}));
  EXPECT_EQ(
      lines_with(outcome.output, "err"),
      (std::vector<std::string>{"err1", "err2", "err3", "err4", "err5", "err6", "err7", "err8"}));
}

TEST_F(DockerRuntimeTest, OneStreamKeepsTheExactOrder) {
  // What the runner does for a job's log: stderr joined to stdout inside the container.
  auto outcome =
      run_to_end(spec("exec 2>&1; for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_EQ(outcome.output, "out1\nerr1\nout2\nerr2\nout3\nerr3\nout4\nerr4\nout5\nerr5\n");
}

TEST_F(DockerRuntimeTest, ExitCodeComesBack) {
  auto outcome = run_to_end(spec("echo bye; exit 3"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_EQ(outcome.status->exit_code, 3);
  EXPECT_FALSE(outcome.status->oom_killed);
  EXPECT_EQ(outcome.output, "bye\n");
}

TEST_F(DockerRuntimeTest, LargeOutputArrivesWhole) {
  // ~1.3 MB: many frames, many reads, no loss.
  auto outcome =
      run_to_end(spec("i=0; while [ $i -lt 20000 ]; do echo \"line $i of the test output "
                      "......................\"; i=$((i+1)); done"));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  auto lines = lines_with(outcome.output, "line ");
  ASSERT_EQ(lines.size(), 20000u);
  EXPECT_EQ(lines.front(), "line 0 of the test output ......................");
  EXPECT_EQ(lines.back(), "line 19999 of the test output ......................");
}

TEST_F(DockerRuntimeTest, MemoryLimitOomKills) {
  auto s = spec("x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo ${#x}");
  s.memory_bytes = 16 * 1024 * 1024;
  auto outcome = run_to_end(s);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_EQ(outcome.status->exit_code, 137);
  EXPECT_TRUE(outcome.status->oom_killed)
      << "the engine did not report OOMKilled; on Podman < 5 start the service with "
         "scripts/podman-service.sh, whose conmon wrapper makes Podman see OOM kills";
}

TEST_F(DockerRuntimeTest, LimitsAndSecurityOptionsTakeEffectInside) {
  auto s = spec(
      "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
      "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
      "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max");
  s.memory_bytes = 64 * 1024 * 1024;
  s.cpus = 0.5;
  s.pids_limit = 77;
  auto outcome = run_to_end(s);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_NE(outcome.output.find("CapEff:\t0000000000000000"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("NoNewPrivs:\t1"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("77\n"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("67108864\n"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("50000"), std::string::npos) << outcome.output;
}

TEST_F(DockerRuntimeTest, NetworkNoneCannotReachTheHost) {
  tcp::acceptor acceptor(io_, tcp::endpoint(tcp::v4(), 0));
  asio::co_spawn(io_, serve_hello(acceptor), asio::detached);
  // busybox nc, not wget: the static busybox's wget crashes resolving even an IP address.
  std::string target = host_ipv4() + " " + std::to_string(acceptor.local_endpoint().port());
  std::string script =
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/if:/'; "
      "if printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " +
      target + "; then echo; echo REACHED; else echo UNREACHABLE; fi";

  auto isolated = run_to_end(spec(script));  // spec() asks for network_mode "none"
  ASSERT_TRUE(isolated.status.ok()) << isolated.status.error().message;
  EXPECT_EQ(lines_with(isolated.output, "if:"), std::vector<std::string>{"if:lo"})
      << isolated.output;
  EXPECT_EQ(isolated.output.find("hello-from-host"), std::string::npos) << isolated.output;
  EXPECT_NE(isolated.output.find("UNREACHABLE"), std::string::npos) << isolated.output;

  // Control: the same container on the host's network does reach the listener, so the
  // failure above is the isolation and not a broken test.
  auto s = spec(script);
  s.network_mode = "host";
  auto shared = run_to_end(s);
  ASSERT_TRUE(shared.status.ok()) << shared.status.error().message;
  EXPECT_NE(shared.output.find("hello-from-host"), std::string::npos) << shared.output;
  EXPECT_EQ(shared.output.find("UNREACHABLE"), std::string::npos) << shared.output;
  acceptor.close();
}

TEST_F(DockerRuntimeTest, BindMountAndWorkingDirectory) {
  auto dir = std::filesystem::temp_directory_path() / ("corral-bind-" + random_hex(6));
  std::filesystem::create_directories(dir / "ro");
  auto s = spec(
      "pwd; echo written > /workspace/from-container; "
      "if touch /workspace/ro/x 2>/dev/null; then echo RO-WRITABLE; else echo RO-REFUSED; fi");
  s.working_dir = "/workspace";
  s.binds = {dir.string() + ":/workspace", (dir / "ro").string() + ":/workspace/ro:ro"};
  auto outcome = run_to_end(s);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
  EXPECT_EQ(outcome.output, "/workspace\nRO-REFUSED\n");
  std::ifstream written(dir / "from-container");
  std::string content;
  std::getline(written, content);
  EXPECT_EQ(content, "written");
  std::filesystem::remove_all(dir);
}

TEST_F(DockerRuntimeTest, OutputArrivesWhileTheContainerRuns) {
  auto id = create(spec("echo first; exec sleep 30"));
  std::string output;
  std::string state_when_first_arrived;
  bool run_returned = false;
  Result<ExitStatus> status;
  asio::co_spawn(io_,
                 runtime_->run(id,
                               [&](std::string_view piece) {
                                 output.append(piece);
                                 if (output != "first\n") return;
                                 // Ask the engine how the container is doing, then end it.
                                 asio::co_spawn(
                                     io_,
                                     [&]() -> awaitable<void> {
                                       auto listed = co_await runtime_->list("corral.test-run=" +
                                                                             run_label_value_);
                                       if (listed.ok() && listed->size() == 1)
                                         state_when_first_arrived = (*listed)[0].state;
                                       (void)co_await runtime_->kill(id);
                                     },
                                     asio::detached);
                               }),
                 [&](std::exception_ptr, Result<ExitStatus> r) {
                   status = std::move(r);
                   run_returned = true;
                 });
  ASSERT_TRUE(run_until(
      io_, [&] { return run_returned; }, 30s));
  EXPECT_EQ(state_when_first_arrived, "running");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 137);
  EXPECT_EQ(output, "first\n");
}

TEST_F(DockerRuntimeTest, StopEndsARunningContainerPromptly) {
  struct Case {
    std::string script;
    int expected_exit;
    std::string expected_output;
  };
  const std::vector<Case> cases = {
      // Handles SIGTERM: exits with its own status within the grace period.
      {"trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 1 & wait $!; done", 42,
       "ready\ngot-term\n"},
      // PID 1 without a handler ignores SIGTERM: SIGKILL once the grace period is over.
      {"echo ready; exec sleep 60", 137, "ready\n"},
  };
  for (const auto& c : cases) {
    auto id = create(spec(c.script));
    std::string output;
    bool run_returned = false;
    Result<ExitStatus> status;
    Result<void> stopped = make_error(ErrorCode::kInternal, "stop() not called");
    std::chrono::steady_clock::time_point stop_called;
    asio::co_spawn(
        io_,
        runtime_->run(id,
                      [&](std::string_view piece) {
                        output.append(piece);
                        if (output != "ready\n") return;
                        stop_called = std::chrono::steady_clock::now();
                        asio::co_spawn(
                            io_,
                            [&]() -> awaitable<void> { stopped = co_await runtime_->stop(id, 2s); },
                            asio::detached);
                      }),
        [&](std::exception_ptr, Result<ExitStatus> r) {
          status = std::move(r);
          run_returned = true;
        });
    ASSERT_TRUE(run_until(
        io_, [&] { return run_returned; }, 30s));
    auto took = std::chrono::steady_clock::now() - stop_called;
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(status->exit_code, c.expected_exit) << c.script;
    EXPECT_EQ(output, c.expected_output);
    EXPECT_LT(took, 6s) << c.script;
    ASSERT_TRUE(run_until(
        io_, [&] { return stopped.ok(); }, 30s))
        << stopped.error().message;
  }
}

TEST_F(DockerRuntimeTest, StopBeforeRunMeansItNeverStarts) {
  auto id = create(spec("echo should-not-run"));
  ASSERT_TRUE(run_coro(io_, runtime_->stop(id, 1s)).ok());
  std::string output;
  auto status = run_coro(io_, runtime_->run(id, [&](std::string_view p) { output.append(p); }));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 137);
  EXPECT_EQ(output, "");
}

TEST_F(DockerRuntimeTest, RunOnAnExitedContainerReportsItWithoutRestarting) {
  auto first = run_to_end(spec("echo once; exit 7"));
  ASSERT_TRUE(first.status.ok());
  // A new runtime, as after a runner restart, finds the container by label.
  DockerConfig config;
  config.host = std::getenv("DOCKER_HOST");
  auto fresh = DockerRuntime::open(io_.get_executor(), config);
  ASSERT_TRUE(fresh.ok());
  auto listed = run_coro(io_, fresh.value()->list(run_label()));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_NE((*listed)[0].state, "running");  // Docker says "exited", Podman 4.3 "stopped"
  EXPECT_NE((*listed)[0].state, "created");
  std::string output;
  auto status =
      run_coro(io_, fresh.value()->run(first.id, [&](std::string_view p) { output.append(p); }));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 7);
  EXPECT_EQ(output, "");  // not run again
}

// A warm container (runner/warm_pool.h): started ahead with `sh -s` on stdin, then given
// its job through stdin; the output, the exit code and stop() work as with run().
TEST_F(DockerRuntimeTest, AHeldContainerRunsTheInputItIsGivenLater) {
  auto s = spec("");
  s.entrypoint = {"/bin/sh"};
  s.command = {"-s"};
  s.open_stdin = true;
  auto id = create(s);
  ASSERT_TRUE(run_coro(io_, runtime_->start_held(id)).ok());
  EXPECT_TRUE(runtime_->held(id));
  std::string output;
  auto status =
      run_coro(io_, runtime_->run_with_input(
                        id, "export V='from stdin'\nexec sh -c 'echo \"$V\"; exit 5' </dev/null\n",
                        [&](std::string_view p) { output.append(p); }));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 5);
  EXPECT_EQ(output, "from stdin\n");
  EXPECT_FALSE(runtime_->held(id));  // one input per container
  auto again = run_coro(io_, runtime_->run_with_input(id, "exit 0\n", {}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
}

TEST_F(DockerRuntimeTest, AHeldContainerStopsLikeAnyOther) {
  auto s = spec("");
  s.entrypoint = {"/bin/sh"};
  s.command = {"-s"};
  s.open_stdin = true;
  auto id = create(s);
  ASSERT_TRUE(run_coro(io_, runtime_->start_held(id)).ok());
  std::string output;
  std::optional<Result<ExitStatus>> status;
  asio::co_spawn(io_,
                 runtime_->run_with_input(id, "exec sh -c 'echo up; sleep 60' </dev/null\n",
                                          [&](std::string_view p) { output.append(p); }),
                 [&](std::exception_ptr, Result<ExitStatus> r) { status = std::move(r); });
  ASSERT_TRUE(run_until(
      io_, [&] { return output == "up\n"; }, 30s))
      << output;
  ASSERT_TRUE(run_coro(io_, runtime_->stop(id, 1s)).ok());
  ASSERT_TRUE(run_until(
      io_, [&] { return status.has_value(); }, 30s));
  ASSERT_TRUE(status->ok()) << status->error().message;
  EXPECT_NE((*status)->exit_code, 0);
  ASSERT_TRUE(run_coro(io_, runtime_->remove(id)).ok());
}

TEST_F(DockerRuntimeTest, MissingImageIsAnImagePullErrorWithTheEnginesMessage) {
  const std::string missing = "localhost/corral-missing-" + random_hex(4) + ":latest";
  for (auto policy : {PullPolicy::kNever, PullPolicy::kIfNotPresent}) {
    auto ensured = run_coro(io_, runtime_->ensure_image(missing, policy), 120s);
    ASSERT_FALSE(ensured.ok()) << pull_policy_name(policy);
    EXPECT_EQ(ensured.error().code, ErrorCode::kImagePull) << ensured.error().message;
    EXPECT_NE(ensured.error().message.find(missing), std::string::npos) << ensured.error().message;
    auto detail = json::parse(ensured.error().detail_json);
    EXPECT_FALSE(detail["engine_message"].get<std::string>().empty());
  }
  auto s = spec("true");
  s.image = missing;
  auto created = run_coro(io_, runtime_->create(s));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kImagePull) << created.error().message;
}

TEST_F(DockerRuntimeTest, ListFindsByLabelAndRemoveLeavesNothing) {
  auto s = spec("true");
  s.labels["corral.job"] = "job_" + random_hex(4);
  auto id = create(s);
  auto listed = run_coro(io_, runtime_->list("corral.job=" + s.labels["corral.job"]));
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].state, "created");
  EXPECT_EQ((*listed)[0].labels.at("corral.runner"), "runner_itest");

  auto status = run_coro(io_, runtime_->run(id, nullptr));
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(run_coro(io_, runtime_->remove(id)).ok());
  ASSERT_TRUE(run_coro(io_, runtime_->remove(id)).ok());  // gone already: still fine

  // Ask the engine directly, not through list().
  SyncHttpClient engine(Endpoint::parse(std::getenv("DOCKER_HOST")).value());
  auto raw = engine.get("/v1.41/containers/json?all=1&filters=" +
                        docker_api::label_filter_param(run_label()));
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  ASSERT_EQ(raw->status, 200);
  EXPECT_EQ(json::parse(raw->body), json::array());
}

TEST_F(DockerRuntimeTest, ExecInARunningContainer) {
  auto id = create(spec("echo ready; exec sleep 60"));
  bool run_returned = false;
  Result<ExitStatus> status;
  Result<ExecResult> exec_result;
  asio::co_spawn(
      io_,
      runtime_->run(
          id,
          [&](std::string_view piece) {
            if (piece.find("ready") == std::string_view::npos) return;
            asio::co_spawn(
                io_,
                [&]() -> awaitable<void> {
                  ExecSpec e;
                  e.command = {"sh", "-c", "echo in-exec; echo \"$EXEC_VAR\" >&2; exit 5"};
                  e.env = {{"EXEC_VAR", "from-env"}};
                  exec_result = co_await runtime_->exec(id, e);
                  (void)co_await runtime_->kill(id);
                },
                asio::detached);
          }),
      [&](std::exception_ptr, Result<ExitStatus> r) {
        status = std::move(r);
        run_returned = true;
      });
  ASSERT_TRUE(run_until(
      io_, [&] { return run_returned; }, 30s));
  ASSERT_TRUE(exec_result.ok()) << exec_result.error().message;
  EXPECT_EQ(exec_result->exit_code, 5);
  EXPECT_NE(exec_result->output.find("in-exec\n"), std::string::npos);
  EXPECT_NE(exec_result->output.find("from-env\n"), std::string::npos);
  EXPECT_FALSE(exec_result->truncated);
}

TEST_F(DockerRuntimeTest, EngineErrorsAreTyped) {
  auto missing = run_coro(io_, runtime_->run("corral-no-such-container-" + random_hex(4), nullptr));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(
      json::parse(missing.error().detail_json)["engine_message"].get<std::string>().empty());

  auto s = spec("true");
  s.name = "corral-dup-" + random_hex(4);
  create(s);
  auto duplicate = run_coro(io_, runtime_->create(s));
  ASSERT_FALSE(duplicate.ok());
  // Docker answers 409; Podman 4.3 answers 500. Either way the engine's message is kept.
  EXPECT_TRUE(duplicate.error().code == ErrorCode::kConflict ||
              duplicate.error().code == ErrorCode::kEngine)
      << duplicate.error().message;
  EXPECT_FALSE(
      json::parse(duplicate.error().detail_json)["engine_message"].get<std::string>().empty());

  // A command that is not in the image: the engine refuses it (Podman 4.3 already at
  // attach, with 409; Docker at start, with 400) and its explanation comes back.
  auto no_program = spec("");
  no_program.command = {"/no/such/program"};
  auto id = create(no_program);
  auto refused = run_coro(io_, runtime_->run(id, nullptr));
  ASSERT_FALSE(refused.ok());
  ASSERT_FALSE(refused.error().detail_json.empty()) << refused.error().message;
  auto refusal = json::parse(refused.error().detail_json);
  EXPECT_GE(refusal["engine_status"].get<int>(), 400);
  EXPECT_NE(refusal["engine_message"].get<std::string>().find("/no/such/program"),
            std::string::npos);

  auto bad = run_coro(io_, runtime_->stop("../images", 1s));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidSpec);
}

TEST_F(DockerRuntimeTest, UnreachableEngineIsUnavailable) {
  DockerConfig config;
  config.host = "unix:///nonexistent/corral-" + random_hex(4) + ".sock";
  auto runtime = DockerRuntime::open(io_.get_executor(), config);
  ASSERT_TRUE(runtime.ok());
  auto info = run_coro(io_, runtime.value()->info());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(info.error().message.find("DOCKER_HOST"), std::string::npos);
}

TEST_F(DockerRuntimeTest, TimingOfATrivialContainer) {
  // create -> attach+start -> exit -> inspect -> remove, for `true`; printed for the record.
  for (const std::string& network : {std::string("none"), std::string("")}) {
    std::vector<double> ms;
    for (int i = 0; i < 5; ++i) {
      auto s = spec("true");
      s.command = {"true"};
      s.network_mode = network;
      auto started = std::chrono::steady_clock::now();
      auto outcome = run_to_end(s);
      ASSERT_TRUE(outcome.status.ok()) << outcome.status.error().message;
      ASSERT_TRUE(run_coro(io_, runtime_->remove(outcome.id)).ok());
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
    }
    std::sort(ms.begin(), ms.end());
    std::cout << "[ timing   ] network=" << (network.empty() ? "default" : network)
              << " create->run->remove of `true`: median " << ms[ms.size() / 2] << " ms, min "
              << ms.front() << " ms, max " << ms.back() << " ms\n";
  }
}

}  // namespace
}  // namespace corral

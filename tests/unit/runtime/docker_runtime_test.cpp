// DockerRuntime against a scripted fake engine on a unix socket: the exact bytes of the
// hijacked attach stream, the order of API calls, and how engine errors are typed. The
// real engine is exercised by tests/integration/runtime/.
#include "runtime/docker/docker_runtime.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/test_values.h"
#include "coro_test_util.h"

namespace corral {
namespace {

using testing::run_coro;
using testing::run_until;
using namespace std::chrono_literals;
using Request = http::request<http::string_body>;
using Socket = unix_socket::socket;

const std::string kUpgraded =
    "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
const std::string kRawOk =
    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";

awaitable<void> write_raw(Socket& socket, std::string bytes) {
  error_code ec;
  co_await asio::async_write(socket, asio::buffer(bytes), asio::redirect_error(use_awaitable, ec));
}

awaitable<void> respond(Socket& socket, int status, std::string body) {
  std::string text = "HTTP/1.1 " + std::to_string(status) +
                     " X\r\nContent-Type: application/json\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await write_raw(socket, std::move(text));
}

// Something a fake handler waits for and a test (or another handler) fires.
class Signal {
 public:
  explicit Signal(asio::io_context& io) : timer_(io) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  void fire() {
    fired_ = true;
    timer_.cancel();
  }
  bool fired() const { return fired_; }
  awaitable<void> wait() {
    while (!fired_) {
      error_code ec;
      co_await timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

 private:
  asio::steady_timer timer_;
  bool fired_ = false;
};

// A scripted engine: each request goes to the handler registered for the longest prefix of
// "METHOD target"; a handler that hijacks the connection returns false to end it.
class FakeEngine {
 public:
  using Handler = std::function<awaitable<bool>(const Request&, Socket&)>;

  FakeEngine(asio::io_context& io, std::filesystem::path path)
      : acceptor_(io, unix_socket::endpoint(path.string())) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  ~FakeEngine() {
    error_code ec;
    acceptor_.close(ec);
  }

  void on(std::string prefix, Handler handler) {
    handlers_[std::move(prefix)] = std::move(handler);
  }
  void json(std::string prefix, int status, std::string body) {
    on(std::move(prefix), [status, body](const Request&, Socket& s) -> awaitable<bool> {
      co_await respond(s, status, body);
      co_return true;
    });
  }
  const std::vector<std::string>& requests() const { return requests_; }
  // Request lines without query strings, e.g. "POST /v1.41/containers/c1/start".
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    for (const auto& r : requests_) out.push_back(r.substr(0, r.find('?')));
    return out;
  }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      Socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> serve(Socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      Request req;
      error_code ec;
      co_await http::async_read(socket, buffer, req, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      std::string line = std::string(req.method_string()) + " " + std::string(req.target());
      requests_.push_back(line);
      const Handler* best = nullptr;
      size_t best_len = 0;
      for (const auto& [prefix, handler] : handlers_) {
        if (line.rfind(prefix, 0) == 0 && prefix.size() >= best_len) {
          best = &handler;
          best_len = prefix.size();
        }
      }
      if (!best) {
        co_await respond(socket, 404, R"({"message":"fake engine: no handler for )" + line + "\"}");
        continue;
      }
      if (!co_await (*best)(req, socket)) {
        socket.close(ec);
        co_return;
      }
    }
  }

  unix_socket::acceptor acceptor_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::string> requests_;
};

class DockerRuntimeFakeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("corral-fake-engine-" + random_hex(6));
    std::filesystem::create_directories(dir_);
    engine_ = std::make_unique<FakeEngine>(io_, dir_ / "engine.sock");
    DockerConfig config;
    config.host = "unix://" + (dir_ / "engine.sock").string();
    config.request_timeout = 5s;
    auto opened = DockerRuntime::open(io_.get_executor(), config);
    ASSERT_TRUE(opened.ok());
    runtime_ = std::move(opened.value());
    engine_->json("POST /v1.41/containers/create", 201, R"({"Id":"c1","Warnings":[]})");
    engine_->json("POST /v1.41/containers/c1/start", 204, "");
    engine_->json(
        "GET /v1.41/containers/c1/json", 200,
        R"({"Id":"c1","State":{"Status":"exited","Running":false,"ExitCode":3,"OOMKilled":true}})");
  }
  void TearDown() override {
    runtime_.reset();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string create() {
    ContainerSpec spec;
    spec.image = "localhost/corral-test:latest";
    spec.command = {"true"};
    auto id = run_coro(io_, runtime_->create(spec), 10s);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? id.value() : "";
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<DockerRuntime> runtime_;
};

TEST_F(DockerRuntimeFakeEngineTest, AttachesBeforeStartDemuxesAndInspects) {
  for (const std::string& header : {kUpgraded, kRawOk}) {
    Signal started(io_);
    engine_->on("POST /v1.41/containers/c1/start",
                [&](const Request&, Socket& s) -> awaitable<bool> {
                  started.fire();
                  co_await respond(s, 204, "");
                  co_return true;
                });
    engine_->on("POST /v1.41/containers/c1/attach",
                [&](const Request& req, Socket& s) -> awaitable<bool> {
                  EXPECT_EQ(req[http::field::upgrade], "tcp");
                  // The header and the first frame in one write: bytes past the header must not be
                  // lost.
                  co_await write_raw(s, header + docker_frame(1, "hello "));
                  co_await started.wait();
                  std::string rest = docker_frame(2, "warn\n") + docker_frame(1, "world\n");
                  co_await write_raw(s, rest.substr(0, 3));
                  co_await write_raw(s, rest.substr(3, 14));
                  co_await write_raw(s, rest.substr(17));
                  co_return false;  // close: the container's output has ended
                });
    auto id = create();
    std::string output;
    auto status =
        run_coro(io_, runtime_->run(id, [&](std::string_view p) { output.append(p); }), 10s);
    ASSERT_TRUE(status.ok()) << status.error().message;
    EXPECT_EQ(output, "hello warn\nworld\n");
    EXPECT_EQ(status->exit_code, 3);
    EXPECT_TRUE(status->oom_killed);
  }
  auto calls = engine_->calls();
  std::vector<std::string> one_run = {
      "POST /v1.41/containers/create", "POST /v1.41/containers/c1/attach",
      "POST /v1.41/containers/c1/start", "GET /v1.41/containers/c1/json"};
  ASSERT_EQ(calls.size(), 8u);
  EXPECT_EQ(std::vector<std::string>(calls.begin(), calls.begin() + 4), one_run);
  EXPECT_EQ(engine_->requests()[1], "POST /v1.41/containers/c1/attach?stream=1&stdout=1&stderr=1");
}

TEST_F(DockerRuntimeFakeEngineTest, OutputIsDeliveredBeforeTheStreamEnds) {
  Signal line1_seen(io_);
  engine_->on("POST /v1.41/containers/c1/attach",
              [&](const Request&, Socket& s) -> awaitable<bool> {
                co_await write_raw(s, kUpgraded);
                co_await write_raw(s, docker_frame(1, "line1\n"));
                // Holds the stream open until the runtime has handed line1 on: a runtime that
                // buffered until the end would never get there.
                co_await line1_seen.wait();
                co_await write_raw(s, docker_frame(1, "line2\n"));
                co_return false;
              });
  auto id = create();
  std::string output;
  auto status = run_coro(io_,
                         runtime_->run(id,
                                       [&](std::string_view p) {
                                         output.append(p);
                                         if (output == "line1\n") line1_seen.fire();
                                       }),
                         10s);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(output, "line1\nline2\n");
}

TEST_F(DockerRuntimeFakeEngineTest, PollsUntilTheEngineRecordsTheExit) {
  int inspections = 0;
  engine_->on("POST /v1.41/containers/c1/attach",
              [&](const Request&, Socket& s) -> awaitable<bool> {
                co_await write_raw(s, kUpgraded + docker_frame(1, "done\n"));
                co_return false;
              });
  // Still running, then Podman's "stopping" (Running false, ExitCode not yet known), then exited.
  const std::vector<std::string> states = {
      R"({"State":{"Status":"running","Running":true,"ExitCode":0}})",
      R"({"State":{"Status":"stopping","Running":false,"ExitCode":0}})",
      R"({"State":{"Status":"exited","Running":false,"ExitCode":9}})"};
  engine_->on("GET /v1.41/containers/c1/json", [&](const Request&, Socket& s) -> awaitable<bool> {
    co_await respond(s, 200, states[std::min<size_t>(inspections++, states.size() - 1)]);
    co_return true;
  });
  auto id = create();
  auto status = run_coro(io_, runtime_->run(id, nullptr), 10s);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 9);
  EXPECT_EQ(inspections, 3);
}

TEST_F(DockerRuntimeFakeEngineTest, StopDuringAttachMeansNoStart) {
  Signal attach_received(io_);
  Signal stop_answered(io_);
  engine_->on("POST /v1.41/containers/c1/attach",
              [&](const Request&, Socket& s) -> awaitable<bool> {
                attach_received.fire();
                co_await stop_answered.wait();
                co_await write_raw(s, kUpgraded);
                co_return false;
              });
  engine_->on("POST /v1.41/containers/c1/stop", [&](const Request&, Socket& s) -> awaitable<bool> {
    co_await respond(s, 304, "");
    stop_answered.fire();
    co_return true;
  });
  auto id = create();
  bool run_returned = false;
  Result<ExitStatus> status;
  asio::co_spawn(io_, runtime_->run(id, nullptr), [&](std::exception_ptr, Result<ExitStatus> r) {
    status = std::move(r);
    run_returned = true;
  });
  ASSERT_TRUE(run_until(
      io_, [&] { return attach_received.fired(); }, 10s));
  ASSERT_TRUE(run_coro(io_, runtime_->stop(id, 1s), 10s).ok());
  ASSERT_TRUE(run_until(
      io_, [&] { return run_returned; }, 10s));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 137);
  for (const auto& call : engine_->calls()) EXPECT_NE(call, "POST /v1.41/containers/c1/start");
}

TEST_F(DockerRuntimeFakeEngineTest, EngineErrorsBecomeTypedErrors) {
  // A failed start: the engine's message is kept, the attach connection is let go.
  engine_->on(
      "POST /v1.41/containers/c1/attach", [&](const Request&, Socket& s) -> awaitable<bool> {
        co_await write_raw(s, kUpgraded);
        error_code ec;
        char byte;
        co_await s.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(use_awaitable, ec));
        EXPECT_TRUE(ec);  // the runtime closed the stream
        co_return false;
      });
  engine_->json(
      "POST /v1.41/containers/c1/start", 500,
      R"({"message":"runc create failed: exec: \"/nope\": no such file","response":500})");
  auto id = create();
  auto status = run_coro(io_, runtime_->run(id, nullptr), 10s);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kEngine);
  auto detail = nlohmann::json::parse(status.error().detail_json);
  EXPECT_EQ(detail["engine_status"], 500);
  EXPECT_EQ(detail["engine_message"], "runc create failed: exec: \"/nope\": no such file");

  // Attaching to a container the engine does not know.
  engine_->json("GET /v1.41/containers/gone/json", 404, R"({"message":"no such container"})");
  auto gone = run_coro(io_, runtime_->run("gone", nullptr), 10s);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);

  // A missing image at create time is an image_pull error.
  engine_->json("POST /v1.41/containers/create", 404, R"({"message":"No such image: x:latest"})");
  ContainerSpec spec;
  spec.image = "x";
  auto created = run_coro(io_, runtime_->create(spec), 10s);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kImagePull);

  // A pull that "succeeds" with an error inside its progress stream.
  engine_->json("GET /v1.41/images/x:latest/json", 404, R"({"message":"no such image"})");
  engine_->json("POST /v1.41/images/create", 200,
                "{\"status\":\"Pulling\"}\n{\"error\":\"denied\",\"errorDetail\":{\"message\":"
                "\"denied: no access\"}}\n");
  auto pulled = run_coro(io_, runtime_->ensure_image("x", PullPolicy::kIfNotPresent), 10s);
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.error().code, ErrorCode::kImagePull);
  EXPECT_NE(pulled.error().message.find("denied: no access"), std::string::npos);
  EXPECT_EQ(engine_->requests().back(), "POST /v1.41/images/create?fromImage=x&tag=latest");

  // Policy never: no pull is attempted.
  size_t before = engine_->requests().size();
  auto never = run_coro(io_, runtime_->ensure_image("x", PullPolicy::kNever), 10s);
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error().code, ErrorCode::kImagePull);
  EXPECT_EQ(engine_->requests().size(), before + 1);
}

TEST_F(DockerRuntimeFakeEngineTest, RemoveAndKillTolerateWhatIsAlreadyGone) {
  engine_->json("DELETE /v1.41/containers/c1", 404, R"({"message":"no such container"})");
  EXPECT_TRUE(run_coro(io_, runtime_->remove("c1"), 10s).ok());
  EXPECT_EQ(engine_->requests().back(), "DELETE /v1.41/containers/c1?force=1&v=1");
  // Podman answers 500 to killing a container that is not running; the state decides.
  engine_->json("POST /v1.41/containers/c1/kill", 500, R"({"message":"container state improper"})");
  EXPECT_TRUE(run_coro(io_, runtime_->kill("c1"), 10s).ok());
}

}  // namespace
}  // namespace corral

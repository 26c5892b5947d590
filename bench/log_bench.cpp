// Log throughput benchmark (issue 17): a container writing as fast as it can, as a job of a
// real `corral runner` (docker executor) of a real `corral server`, read by a WebSocket
// watcher of the job's log (GET /api/v1/jobs/{id}/logs/stream); beside, in the same run,
// the same container writing the same bytes to a file inside itself, and the same
// container's output read straight from the engine's attach stream (DockerRuntime, no
// corral), so the engine's share and corral's show apart.
//
//   eval "$(scripts/podman-service.sh start /tmp/corral-podman)" && scripts/make-test-image.sh
//   build/log_bench [--mb 50] [--runs 3]
//
// The container stamps the wall clock (busybox `adjtimex`: date has no %N) just before its
// first output, then writes --mb MB of 64-byte lines (`yes | head -c`). First byte: from that
// stamp to the watcher receiving the first log bytes (one machine, one clock). MB/s: the
// bytes over the stamp to the last byte received (for the file: the stamp after the write).
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "bench_support.h"
#include "net/http_client.h"
#include "runtime/docker/docker_runtime.h"

namespace {

using corral::awaitable;
using corral::ContainerSpec;
using corral::DockerConfig;
using corral::DockerRuntime;
using corral::Endpoint;
using corral::error_code;
using corral::HttpRequest;
using corral::SyncHttpClient;
using corral::bench::percentile;
namespace asio = corral::asio;
namespace beast = corral::beast;
namespace http = corral::http;
namespace websocket = boost::beast::websocket;
namespace fs = std::filesystem;
using json = nlohmann::json;
using WallClock = std::chrono::system_clock;
using corral::tcp;

const char* kLine = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_";  // + \n = 64
const char* kStamp = "adjtimex | grep time.tv_";

std::string image() {
  const char* env = std::getenv("CORRAL_TEST_IMAGE");
  return env && *env ? env : "localhost/corral-test:latest";
}

std::string writer_script(long bytes, bool to_file) {
  std::string gen = "yes " + std::string(kLine) + " | head -c " + std::to_string(bytes);
  if (to_file) return kStamp + std::string("; ") + gen + " > /tmp/out; " + kStamp;
  return kStamp + std::string("; ") + gen;
}

// The stamps adjtimex printed in text, as wall-clock times. The kernel may report tv_usec in
// micro- or nanoseconds (STA_NANO): the reading closer to `near` is the right one.
std::vector<WallClock::time_point> stamps(const std::string& text, WallClock::time_point near) {
  static const std::regex kPair(R"(time\.tv_sec:\s*(\d+)\s+time\.tv_usec:\s*(\d+))");
  std::vector<WallClock::time_point> out;
  for (std::sregex_iterator it(text.begin(), text.end(), kPair), end; it != end; ++it) {
    long long sec = std::stoll((*it)[1]), frac = std::stoll((*it)[2]);
    auto base = WallClock::time_point(std::chrono::seconds(sec));
    auto as_us = base + std::chrono::microseconds(frac);
    auto as_ns =
        base + std::chrono::duration_cast<WallClock::duration>(std::chrono::nanoseconds(frac));
    auto dist = [&](WallClock::time_point t) { return std::abs((t - near).count()); };
    out.push_back(frac >= 1'000'000 || dist(as_ns) < dist(as_us) ? as_ns : as_us);
  }
  return out;
}

double ms(WallClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Measure {
  double first_byte_ms = 0;  // stamp -> first output byte received (0 for the file)
  double mb_per_s = 0;
  long bytes = 0;
};

// ---- baselines through the engine alone.
Measure run_in_engine(DockerRuntime& runtime, asio::io_context& io, long bytes, bool to_file) {
  ContainerSpec spec;
  spec.image = image();
  spec.command = {"sh", "-c", writer_script(bytes, to_file)};
  spec.working_dir = "/";
  spec.network_mode = "none";
  spec.labels = {{"corral.bench", "log_bench"}};
  std::string head;  // the first few KB: the stamp
  std::string tail;  // the last output (for the file: the second stamp)
  long received = 0;
  std::optional<WallClock::time_point> first, last;
  bool ok = false;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto id = co_await runtime.create(spec);
        if (!id.ok()) throw std::runtime_error("create: " + id.error().message);
        auto status = co_await runtime.run(*id, [&](std::string_view data) {
          auto now = WallClock::now();
          if (!first) first = now;
          last = now;
          received += static_cast<long>(data.size());
          if (head.size() < 4096) head.append(data.substr(0, 4096 - head.size()));
          tail.append(data);
          if (tail.size() > 8192) tail.erase(0, tail.size() - 4096);
        });
        co_await runtime.remove(*id);
        ok = status.ok() && status->exit_code == 0;
        if (!ok) std::fprintf(stderr, "engine run failed\n");
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.restart();
  io.run();
  Measure m;
  if (!ok || !first) return m;
  auto begin = stamps(head, *first);
  if (begin.empty()) throw std::runtime_error("no stamp in the output: " + head.substr(0, 200));
  if (to_file) {
    auto all = stamps(head, *last);  // the output is the two stamps alone
    if (all.size() < 2) throw std::runtime_error("no end stamp in: " + head);
    m.bytes = bytes;
    m.mb_per_s = bytes / 1e6 / (ms(all.back() - all.front()) / 1000);
  } else {
    m.bytes = received;
    m.first_byte_ms = ms(*first - begin.front());
    m.mb_per_s = received / 1e6 / (ms(*last - begin.front()) / 1000);
  }
  return m;
}

// ---- corral end to end: the watcher of a job the runner runs.
json api(SyncHttpClient& c, http::verb verb, const std::string& target, const std::string& body) {
  auto res =
      c.request(HttpRequest{verb, target, body, "application/json", {}, std::chrono::seconds(60)});
  if (!res.ok()) throw std::runtime_error(target + ": " + res.error().message);
  if (res->status >= 300)
    throw std::runtime_error(target + " -> " + std::to_string(res->status) + " " + res->body);
  return res->body.empty() ? json::object() : json::parse(res->body);
}

Measure run_in_corral(const std::string& url, const std::string& token, long bytes) {
  auto ep = *Endpoint::parse(url);
  SyncHttpClient client(ep, token);
  json job = api(client, http::verb::post, "/api/v1/jobs",
                 json{{"script", writer_script(bytes, false)}, {"network", "none"}}.dump());
  std::string id = job["id"];
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address(ep.host), ep.port));
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    req.set(http::field::authorization, "Bearer " + token);
  }));
  ws.read_message_max(64 * 1024 * 1024);
  ws.handshake(ep.host_header(), "/api/v1/jobs/" + id + "/logs/stream");
  std::string head;
  long received = 0;
  std::optional<WallClock::time_point> first, last;
  // Where each of the first messages ends in the log, and when it came: the runner may write
  // lines of its own before the container's first output.
  std::vector<std::pair<size_t, WallClock::time_point>> arrivals;
  std::string end_state;
  beast::flat_buffer buffer;
  for (;;) {
    error_code ec;
    ws.read(buffer, ec);
    if (ec) break;
    auto now = WallClock::now();
    if (ws.got_binary()) {
      if (!first) first = now;
      last = now;
      received += static_cast<long>(buffer.size());
      if (head.size() < 4096) {
        std::string data = beast::buffers_to_string(buffer.data());
        head.append(data.substr(0, 4096 - head.size()));
        arrivals.emplace_back(static_cast<size_t>(received), now);
      }
    } else {
      json msg = json::parse(beast::buffers_to_string(buffer.data()));
      if (msg.value("type", "") == "end") {
        end_state = msg.value("state", "");
        break;
      }
    }
    buffer.consume(buffer.size());
  }
  error_code ignored;
  ws.close(websocket::close_code::normal, ignored);
  Measure m;
  if (end_state != "succeeded" || !first) {
    std::fprintf(stderr, "corral job %s ended %s with %ld bytes\n", id.c_str(), end_state.c_str(),
                 received);
    return m;
  }
  auto begin = stamps(head, *first);
  if (begin.empty()) throw std::runtime_error("no stamp in the log: " + head.substr(0, 200));
  // The container's first byte is the stamp's first.
  size_t at = head.find("time.tv_");
  auto came = *first;
  for (const auto& [end, when] : arrivals) {
    if (end > at) {
      came = when;
      break;
    }
  }
  m.bytes = received;
  m.first_byte_ms = ms(came - begin.front());
  m.mb_per_s = received / 1e6 / (ms(*last - begin.front()) / 1000);
  return m;
}

// `corral runner` with the docker executor, the test image and no network.
struct RunnerProcess {
  pid_t pid = -1;
  fs::path dir;
  RunnerProcess(const std::string& url, const std::string& registration, const fs::path& d,
                long max_log)
      : dir(d) {
    fs::create_directories(dir / "workspaces");
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (const std::string& kv :
         {"RUNNER_SERVER_URL=" + url, "RUNNER_TOKEN=" + registration,
          std::string("RUNNER_NAME=log-bench"), "DOCKER_EXECUTOR_IMAGE=" + image(),
          "DOCKER_WORKSPACE_BASE=" + (dir / "workspaces").string(),
          std::string("DOCKER_PULL_POLICY=never"), std::string("DOCKER_NETWORK_MODE=none"),
          "RUNNER_LOG_MAX_BYTES=" + std::to_string(max_log)})
      env.push_back(kv);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    const char* argv[] = {CORRAL_BINARY, "runner", nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir / "runner.log").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char**>(argv), envp.data());
    posix_spawn_file_actions_destroy(&fa);
  }
  RunnerProcess(const RunnerProcess&) = delete;
  RunnerProcess& operator=(const RunnerProcess&) = delete;
  ~RunnerProcess() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
  }
};

void print_row(const char* name, const std::vector<Measure>& runs) {
  std::vector<double> rate, first;
  for (const auto& m : runs) {
    rate.push_back(m.mb_per_s);
    first.push_back(m.first_byte_ms);
  }
  std::printf(
      "  %-44s MB/s median %7.1f (min %7.1f, max %7.1f)   first byte median %7.1f ms "
      "(max %7.1f)\n",
      name, percentile(rate, 0.5), percentile(rate, 0), percentile(rate, 1), percentile(first, 0.5),
      percentile(first, 1));
}

}  // namespace

int main(int argc, char** argv) {
  int mb = 50, runs = 3;
  int corral_only = 0;  // 1: only the corral runs (to profile them), no baseline
  if (!corral::bench::parse_flags(
          argc, argv, {{"--mb", &mb}, {"--runs", &runs}, {"--corral-only", &corral_only}}))
    return 2;
  const char* host = std::getenv("DOCKER_HOST");
  if (!host || !*host) {
    std::fprintf(stderr, "log_bench: set DOCKER_HOST (scripts/podman-service.sh)\n");
    return 2;
  }
  long bytes = static_cast<long>(mb) * 1'000'000;
  auto base = fs::temp_directory_path() / ("corral-log-bench-" + std::to_string(getpid()));
  try {
    asio::io_context io;
    DockerConfig config;
    config.host = host;
    auto opened = DockerRuntime::open(io.get_executor(), config);
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    DockerRuntime& runtime = **opened;

    const long max_log = 2 * bytes + (1 << 20);
    corral::bench::Server server(base / "server", "", {"--log-max-bytes", std::to_string(max_log)});
    SyncHttpClient admin(*Endpoint::parse(server.url), server.token);
    std::string registration = api(admin, http::verb::post, "/api/v1/tokens",
                                   R"({"kind":"runner","name":"log-bench"})")["token"];
    RunnerProcess runner(server.url, registration, base / "runner", max_log);
    for (auto deadline = corral::bench::Clock::now() + std::chrono::seconds(30);;) {
      json listed = api(admin, http::verb::get, "/api/v1/runners", "");
      bool idle = false;
      for (const auto& r : listed["runners"]) idle = idle || r.value("status", "") == "idle";
      if (idle) break;
      if (corral::bench::Clock::now() > deadline) throw std::runtime_error("runner not idle");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::printf("log throughput: %d MB of 64-byte lines per run, %d run(s) each, image %s\n", mb,
                runs, image().c_str());
    std::vector<Measure> to_file, engine, corral_ws;
    // A warm-up of each (image layers and page cache), not counted.
    run_in_engine(runtime, io, 1'000'000, false);
    run_in_corral(server.url, server.token, 1'000'000);
    for (int r = 0; r < runs; ++r) {
      if (!corral_only) {
        to_file.push_back(run_in_engine(runtime, io, bytes, true));
        engine.push_back(run_in_engine(runtime, io, bytes, false));
        std::printf(
            "run %d: in-container file %.1f MB/s; engine attach stream %.1f MB/s, first "
            "byte %.1f ms\n",
            r + 1, to_file.back().mb_per_s, engine.back().mb_per_s, engine.back().first_byte_ms);
      }
      corral_ws.push_back(run_in_corral(server.url, server.token, bytes));
      std::printf("run %d: corral WebSocket %.1f MB/s (%ld bytes), first byte %.1f ms\n", r + 1,
                  corral_ws.back().mb_per_s, corral_ws.back().bytes,
                  corral_ws.back().first_byte_ms);
      std::fflush(stdout);
    }
    std::printf("summary:\n");
    if (!corral_only) {
      print_row("raw: the container writes to a file", to_file);
      print_row("engine: attach stream read by DockerRuntime", engine);
    }
    print_row("corral: runner -> server -> WebSocket watcher", corral_ws);
    std::vector<double> rates, firsts;
    for (const auto& m : corral_ws) {
      rates.push_back(m.mb_per_s);
      firsts.push_back(m.first_byte_ms);
    }
    double rate = percentile(rates, 0.5), first = percentile(firsts, 0.5);
    std::printf(
        "goals (issue 17): end to end %.1f MB/s (goal >= 50: %s), first byte %.1f ms "
        "(goal <= 100: %s)\n",
        rate, rate >= 50 ? "met" : "MISSED", first, first <= 100 ? "met" : "MISSED");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "log_bench failed: %s\n", e.what());
    fs::remove_all(base);
    return 1;
  }
  fs::remove_all(base);
  return 0;
}

// Container round trip through DockerRuntime: create -> run (attach, start, stream to EOF,
// inspect) -> remove, for `true`, against the engine named by DOCKER_HOST. Prints per-phase
// latency (median, p90, min, max) sequentially, then throughput with several containers
// in flight on one executor.
//
//   eval "$(scripts/podman-service.sh start /tmp/corral-podman)" && scripts/make-test-image.sh
//   build/runtime_bench [iterations=20] [network=none|default|bridge|host] [concurrency=1,2,4]
//
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/docker/docker_runtime.h"

using namespace corral;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Samples {
  std::vector<double> create, run, remove, total;
};

void print_row(const std::string& name, std::vector<double> v) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  std::cout << std::left << std::setw(10) << name << std::right << std::fixed
            << std::setprecision(1) << " median " << std::setw(7) << at(0.5) << " ms   p90 "
            << std::setw(7) << at(0.9) << " ms   min " << std::setw(7) << v.front() << " ms   max "
            << std::setw(7) << v.back() << " ms\n";
}

ContainerSpec true_spec(const std::string& image, const std::string& network) {
  ContainerSpec spec;
  spec.image = image;
  spec.command = {"true"};
  spec.working_dir = "/";
  spec.network_mode = network;
  spec.labels = {{"corral.bench", "runtime_bench"}};
  return spec;
}

// One create -> run -> remove; records phase times. Returns false on an error.
awaitable<bool> round_trip(DockerRuntime& runtime, const ContainerSpec& spec, Samples* samples) {
  auto t0 = Clock::now();
  auto id = co_await runtime.create(spec);
  if (!id.ok()) {
    std::cerr << "create: " << id.error().message << "\n";
    co_return false;
  }
  double create_ms = ms_since(t0);
  auto t1 = Clock::now();
  auto status = co_await runtime.run(id.value(), nullptr);
  double run_ms = ms_since(t1);
  auto t2 = Clock::now();
  auto removed = co_await runtime.remove(id.value());
  double remove_ms = ms_since(t2);
  if (!status.ok() || status->exit_code != 0 || !removed.ok()) {
    std::cerr << "run/remove failed: "
              << (!status.ok()    ? status.error().message
                  : !removed.ok() ? removed.error().message
                                  : "exit " + std::to_string(status->exit_code))
              << "\n";
    co_return false;
  }
  if (samples) {
    samples->create.push_back(create_ms);
    samples->run.push_back(run_ms);
    samples->remove.push_back(remove_ms);
    samples->total.push_back(ms_since(t0));
  }
  co_return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = std::getenv("DOCKER_HOST");
  if (!host || !*host) {
    std::cerr << "runtime_bench: set DOCKER_HOST, e.g. eval \"$(scripts/podman-service.sh start "
                 "/tmp/corral-podman)\"\n";
    return 2;
  }
  int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  std::string network = argc > 2 ? argv[2] : "none";
  if (network == "default") network.clear();
  std::vector<int> concurrency_levels;
  {
    std::stringstream list(argc > 3 ? argv[3] : "1,2,4");
    for (std::string item; std::getline(list, item, ',');)
      concurrency_levels.push_back(std::atoi(item.c_str()));
  }
  const char* image_env = std::getenv("CORRAL_TEST_IMAGE");
  std::string image = image_env && *image_env ? image_env : "localhost/corral-test:latest";

  asio::io_context io;
  DockerConfig config;
  config.host = host;
  auto opened = DockerRuntime::open(io.get_executor(), config);
  if (!opened.ok()) {
    std::cerr << opened.error().message << "\n";
    return 2;
  }
  DockerRuntime& runtime = *opened.value();
  int exit_code = 0;

  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto info = co_await runtime.info();
        if (!info.ok()) {
          std::cerr << info.error().message << "\n";
          exit_code = 1;
          co_return;
        }
        auto present = co_await runtime.ensure_image(image, PullPolicy::kNever);
        if (!present.ok()) {
          std::cerr << present.error().message << " (build it with scripts/make-test-image.sh)\n";
          exit_code = 1;
          co_return;
        }
        std::cout << "engine: " << info->name << " " << info->version << " (API "
                  << info->api_version << ") at " << host << "\nimage: " << image
                  << "   network: " << (network.empty() ? "engine default" : network)
                  << "   iterations: " << iterations << "\n\n";
        auto spec = true_spec(image, network);
        if (!co_await round_trip(runtime, spec, nullptr)) {  // warm-up: connections, caches
          exit_code = 1;
          co_return;
        }
        Samples samples;
        for (int i = 0; i < iterations; ++i) {
          if (!co_await round_trip(runtime, spec, &samples)) {
            exit_code = 1;
            co_return;
          }
        }
        std::cout << "sequential, per container:\n";
        print_row("create", samples.create);
        print_row("run", samples.run);
        std::cout << "           (run = attach + start + output to EOF + inspect exit status)\n";
        print_row("remove", samples.remove);
        print_row("total", samples.total);
      },
      asio::detached);
  io.run();
  if (exit_code != 0) return exit_code;

  std::cout << "\nthroughput, " << iterations << " containers per level:\n";
  for (int level : concurrency_levels) {
    if (level <= 0) continue;
    io.restart();
    int next = 0, failures = 0;
    auto spec = true_spec(image, network);
    auto started = Clock::now();
    for (int worker = 0; worker < level; ++worker) {
      asio::co_spawn(
          io,
          [&]() -> awaitable<void> {
            while (next < iterations) {
              ++next;
              if (!co_await round_trip(runtime, spec, nullptr)) ++failures;
            }
          },
          asio::detached);
    }
    io.run();
    double seconds = ms_since(started) / 1000.0;
    std::cout << "  concurrency " << level << ": " << std::fixed << std::setprecision(1)
              << iterations / seconds << " containers/s (" << seconds << " s"
              << (failures ? ", " + std::to_string(failures) + " failures" : "") << ")\n";
    if (failures) exit_code = 1;
  }
  return exit_code;
}

// DockerRuntime: ContainerRuntime over the Docker Engine API (v1.41), spoken with our own
// HttpClient over DOCKER_HOST (unix:///path or tcp://host:port). Works with Docker and
// with Podman's compatible service (scripts/podman-service.sh). Never runs the docker CLI.
//
// How run() drives the engine (about 145 ms for `true` on Podman, see DESIGN.md):
//
//   POST /containers/{id}/attach?stream=1&stdout=1&stderr=1   (own connection, hijacked)
//   POST /containers/{id}/start                                (pooled connection)
//   ... multiplexed frames -> StreamDemuxer -> sink ... until the engine closes the stream
//   GET  /containers/{id}/json   -> State.ExitCode, State.OOMKilled
//
// start_held() does the attach (with stdin=1) and the start ahead of time and keeps the
// stream; run_with_input() writes the input, half-closes the stream and pumps it as run()
// does. A warm container so costs one write before its first output byte.
//
// Attaching before start is what guarantees no output is lost; following
// /containers/{id}/logs instead hangs on Podman 4.3 once the container has exited.
//
// OOMKilled on Podman < 5 is only reported when conmon runs inside the container's bundle
// directory (containers/podman#13102); scripts/podman-service.sh arranges that.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "net/http_client.h"
#include "runtime/container_runtime.h"
#include "runtime/docker/hijacked_stream.h"

namespace corral {

struct DockerConfig {
  std::string host = "unix:///var/run/docker.sock";  // DOCKER_HOST
  std::string api_version = "1.41";
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{60'000};  // one API call (not a pull or a run)
  std::chrono::milliseconds pull_timeout{30 * 60'000};
};

class DockerRuntime final : public ContainerRuntime {
 public:
  // Validates config.host; does not connect yet (see ping()).
  static Result<std::unique_ptr<DockerRuntime>> open(asio::any_io_executor executor,
                                                     DockerConfig config);
  DockerRuntime(asio::any_io_executor executor, Endpoint endpoint, DockerConfig config);

  // GET /_ping: the engine is there and answers.
  awaitable<Result<void>> ping() override;

  RuntimeCapabilities capabilities() const override;
  awaitable<Result<RuntimeInfo>> info() override;
  awaitable<Result<void>> ensure_image(const std::string& image, PullPolicy policy) override;
  awaitable<Result<std::string>> create(const ContainerSpec& spec) override;
  awaitable<Result<ExitStatus>> run(const std::string& id, OutputSink sink) override;
  awaitable<Result<void>> stop(const std::string& id, std::chrono::seconds grace) override;
  awaitable<Result<void>> kill(const std::string& id) override;
  awaitable<Result<void>> remove(const std::string& id) override;
  awaitable<Result<std::vector<ContainerSummary>>> list(const std::string& label_filter) override;
  awaitable<Result<ExecResult>> exec(const std::string& id, const ExecSpec& spec) override;
  awaitable<Result<void>> start_held(const std::string& id) override;
  bool held(const std::string& id) const override;
  awaitable<Result<std::vector<std::string>>> image_entrypoint(const std::string& image) override;
  awaitable<Result<ExitStatus>> run_with_input(const std::string& id, std::string input,
                                               OutputSink sink) override;

 private:
  // GET /_ping's answer, whatever its status (ping() and info() read it).
  awaitable<Result<HttpResponse>> ping_answer();
  // Attaches to id's output (and stdin when with_stdin) on a connection of its own.
  awaitable<Result<std::unique_ptr<HijackedStream>>> attach(const std::string& id, bool with_stdin);
  // Pumps stream to sink until the engine closes it, then reads the exit status.
  awaitable<Result<ExitStatus>> stream_until_exit(const std::string& id, HijackedStream& stream,
                                                  const OutputSink& sink);
  // One API call: path is below the version prefix, e.g. "/containers/json".
  awaitable<Result<HttpResponse>> call(http::verb method, const std::string& path, std::string body,
                                       std::chrono::milliseconds timeout);
  awaitable<Result<HttpResponse>> call(http::verb method, const std::string& path,
                                       std::string body = "") {
    return call(method, path, std::move(body), config_.request_timeout);
  }
  // Reads State.ExitCode/OOMKilled once the container is no longer running.
  awaitable<Result<ExitStatus>> exit_status(const std::string& id);
  std::string versioned(const std::string& path) const;

  HttpClient client_;
  DockerConfig config_;
  // Containers this runtime created and run() has yet to start, and those stop()/kill()
  // reached before run() started them (run() must then not start them). Both are only
  // touched on the runtime's executor.
  std::set<std::string> to_start_;
  std::set<std::string> stopped_before_start_;
  // Streams of containers started with start_held(), until run_with_input() or remove().
  std::map<std::string, std::unique_ptr<HijackedStream>> held_;
};

}  // namespace corral

#include "runtime/docker/docker_runtime.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "runtime/docker/engine_api.h"
#include "runtime/docker/hijacked_stream.h"
#include "runtime/docker/stream_demux.h"

namespace corral {

namespace api = docker_api;

namespace {

// Exit status reported for a container that stop() or kill() reached before run() started
// it: it never ran, and it was killed (128 + SIGKILL), which is what the runner reports.
constexpr int kKilledExitCode = 137;

// How long run() polls the container's state after its output ended before falling back
// to the engine's (slower, on Podman) blocking /wait.
constexpr std::chrono::milliseconds kExitPollWindow{2'000};
// /wait for a container that closed its output but keeps running: as long as it takes.
constexpr std::chrono::milliseconds kWaitForeverTimeout{std::chrono::hours(24 * 30)};

Error bad_ref(const std::string& id) {
  return make_error(ErrorCode::kInvalidSpec, "'" + id + "' is not a container id or name");
}

// Feeds one hijacked stream through a demuxer until the engine closes it.
awaitable<Result<void>> pump(HijackedStream& stream, const StreamDemuxer::Handler& handler) {
  StreamDemuxer demux;
  for (;;) {
    auto chunk = co_await stream.read_some();
    if (!chunk.ok()) co_return chunk.error();
    if (chunk->empty()) co_return ok_result();
    auto fed = demux.feed(chunk.value(), handler);
    if (!fed.ok()) co_return fed.error();
  }
}

}  // namespace

Result<std::unique_ptr<DockerRuntime>> DockerRuntime::open(asio::any_io_executor executor,
                                                           DockerConfig config) {
  auto endpoint = Endpoint::parse(config.host);
  if (!endpoint.ok()) {
    return make_error(ErrorCode::kInvalidSpec, "DOCKER_HOST: " + endpoint.error().message);
  }
  return std::make_unique<DockerRuntime>(std::move(executor), std::move(endpoint.value()),
                                         std::move(config));
}

DockerRuntime::DockerRuntime(asio::any_io_executor executor, Endpoint endpoint, DockerConfig config)
    : client_(std::move(executor), std::move(endpoint)), config_(std::move(config)) {}

std::string DockerRuntime::versioned(const std::string& path) const {
  return "/v" + config_.api_version + path;
}

awaitable<Result<HttpResponse>> DockerRuntime::call(http::verb method, const std::string& path,
                                                    std::string body,
                                                    std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.method = method;
  req.target = versioned(path);
  req.body = std::move(body);
  req.timeout = timeout;
  auto res = co_await client_.request(std::move(req));
  if (!res.ok()) {
    Error error = res.error();
    error.message += " (is the container engine running at " + client_.endpoint().to_string() +
                     "? It is set by DOCKER_HOST)";
    co_return error;
  }
  co_return res;
}

awaitable<Result<HttpResponse>> DockerRuntime::ping_answer() {
  HttpRequest req;
  req.target = "/_ping";
  req.timeout = config_.connect_timeout;
  co_return co_await client_.request(std::move(req));
}

awaitable<Result<void>> DockerRuntime::ping() {
  auto res = co_await ping_answer();
  if (!res.ok()) co_return res.error();
  if (res->status != 200) co_return api::engine_error(res->status, res->body, "GET /_ping");
  co_return ok_result();
}

RuntimeCapabilities DockerRuntime::capabilities() const {
  RuntimeCapabilities caps;
  caps.isolation = true;
  caps.resource_limits = true;
  caps.network_modes = true;
  caps.images = true;
  caps.exec = true;
  caps.held_start = true;
  return caps;
}

awaitable<Result<RuntimeInfo>> DockerRuntime::info() {
  // Podman's GET /version asks the package manager which packages hold conmon and the OCI
  // runtime and runs both with --version: about a second and a CPU-second on Debian, at
  // every runner start. Its /_ping headers say what the runner reports (no architecture:
  // the caller falls back to this host's). Docker's /version is cheap and also names the
  // architecture.
  auto pinged = co_await ping_answer();
  if (pinged.ok() && pinged->status == 200) {
    const std::string server = pinged->header("server");
    const std::string api_version = pinged->header("api-version");
    if (auto podman = api::parse_podman_ping(server, api_version)) co_return std::move(*podman);
  }
  auto res = co_await call(http::verb::get, "/version");
  if (!res.ok()) co_return res.error();
  if (res->status != 200) co_return api::engine_error(res->status, res->body, "GET /version");
  co_return api::parse_version(res->body);
}

awaitable<Result<std::vector<std::string>>> DockerRuntime::image_entrypoint(
    const std::string& image) {
  auto ref = api::parse_image_ref(image);
  if (!ref.ok()) co_return ref.error();
  auto inspected = co_await call(http::verb::get, "/images/" + ref->full() + "/json");
  if (!inspected.ok()) co_return inspected.error();
  if (inspected->status != 200) {
    co_return api::engine_error(inspected->status, inspected->body, "looking up image " + image);
  }
  co_return api::parse_image_entrypoint(inspected->body);
}

awaitable<Result<void>> DockerRuntime::ensure_image(const std::string& image, PullPolicy policy) {
  auto ref = api::parse_image_ref(image);
  if (!ref.ok()) co_return ref.error();
  const std::string inspect_path = "/images/" + ref->full() + "/json";
  if (policy != PullPolicy::kAlways) {
    auto inspected = co_await call(http::verb::get, inspect_path);
    if (!inspected.ok()) co_return inspected.error();
    if (inspected->status == 200) co_return ok_result();
    if (inspected->status != 404) {
      co_return api::engine_error(inspected->status, inspected->body, "looking up image " + image);
    }
    if (policy == PullPolicy::kNever) {
      co_return api::engine_error(
          ErrorCode::kImagePull, inspected->status, inspected->body,
          "image " + image +
              " is not present and the pull policy is 'never' (load it into "
              "the engine, or use pull policy if-not-present)");
    }
  }
  const std::string what = "pulling image " + image;
  auto pulled = co_await call(
      http::verb::post,
      "/images/create?fromImage=" + url_encode(ref->repository) + "&tag=" + url_encode(ref->tag),
      "", config_.pull_timeout);
  if (!pulled.ok()) {
    Error error = pulled.error();
    if (error.code == ErrorCode::kTimeout) error.code = ErrorCode::kImagePull;
    co_return error;
  }
  if (pulled->status != 200) {
    co_return api::engine_error(ErrorCode::kImagePull, pulled->status, pulled->body, what);
  }
  // The engine answers 200 before it pulls; a failure shows up inside the progress stream.
  if (auto failure = api::pull_progress_error(pulled->body)) {
    Error error = make_error(ErrorCode::kImagePull, what + ": " + *failure);
    error.detail_json = nlohmann::json{{"engine_status", 200}, {"engine_message", *failure}}.dump();
    co_return error;
  }
  auto inspected = co_await call(http::verb::get, inspect_path);
  if (!inspected.ok()) co_return inspected.error();
  if (inspected->status != 200) {
    co_return api::engine_error(ErrorCode::kImagePull, inspected->status, inspected->body,
                                what + " reported success but the image is not there");
  }
  co_return ok_result();
}

awaitable<Result<std::string>> DockerRuntime::create(const ContainerSpec& spec) {
  auto ref = api::parse_image_ref(spec.image);
  if (!ref.ok()) co_return ref.error();
  std::string path = "/containers/create";
  if (!spec.name.empty()) {
    if (!api::valid_object_ref(spec.name)) co_return bad_ref(spec.name);
    path += "?name=" + url_encode(spec.name);
  }
  auto res = co_await call(http::verb::post, path, api::create_container_body(spec));
  if (!res.ok()) co_return res.error();
  if (res->status == 404) {
    co_return api::engine_error(ErrorCode::kImagePull, res->status, res->body,
                                "creating a container from " + spec.image +
                                    " (the image is missing; ensure_image() pulls it)");
  }
  if (res->status != 201 && res->status != 200) {
    co_return api::engine_error(res->status, res->body, "creating a container from " + spec.image);
  }
  auto id = api::parse_created_id(res->body);
  if (id.ok()) to_start_.insert(id.value());
  co_return id;
}

awaitable<Result<ExitStatus>> DockerRuntime::exit_status(const std::string& id) {
  const std::string path = "/containers/" + id + "/json";
  auto inspect = [&]() -> awaitable<Result<api::ContainerState>> {
    auto res = co_await call(http::verb::get, path);
    if (!res.ok()) co_return res.error();
    if (res->status != 200) {
      co_return api::engine_error(res->status, res->body, "inspecting container " + id);
    }
    co_return api::parse_container_state(res->body);
  };
  // The output normally ends as the container exits; the engine may take a moment to
  // record the exit, so poll briefly, backing off. A container that closed its output and
  // keeps running is waited for with the engine's (slower, on Podman) blocking /wait.
  auto deadline = std::chrono::steady_clock::now() + kExitPollWindow;
  std::chrono::milliseconds delay{2};
  for (;;) {
    auto state = co_await inspect();
    if (!state.ok()) co_return state.error();
    if (state->has_exited()) co_return ExitStatus{state->exit_code, state->oom_killed};
    if (std::chrono::steady_clock::now() < deadline) {
      co_await async_sleep(delay);
      delay = std::min(delay * 2, std::chrono::milliseconds(100));
      continue;
    }
    auto waited =
        co_await call(http::verb::post, "/containers/" + id + "/wait?condition=not-running", "",
                      kWaitForeverTimeout);
    if (!waited.ok()) co_return waited.error();
    if (waited->status != 200) {
      co_return api::engine_error(waited->status, waited->body, "waiting for container " + id);
    }
    deadline = std::chrono::steady_clock::now() + kExitPollWindow;  // then look again
  }
}

awaitable<Result<ExitStatus>> DockerRuntime::run(const std::string& id, OutputSink sink) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  if (stopped_before_start_.count(id)) co_return ExitStatus{kKilledExitCode, false};
  bool must_start = to_start_.count(id) > 0;
  if (!must_start) {
    // Not created by this runtime (or run before): look before touching it, so that an
    // exited container is never started again.
    auto res = co_await call(http::verb::get, "/containers/" + id + "/json");
    if (!res.ok()) co_return res.error();
    if (res->status != 200) {
      co_return api::engine_error(res->status, res->body, "inspecting container " + id);
    }
    auto state = api::parse_container_state(res->body);
    if (!state.ok()) co_return state.error();
    if (state->status == "created") {
      must_start = true;
    } else if (state->has_exited()) {
      co_return ExitStatus{state->exit_code, state->oom_killed};
    }
  }

  auto attached = co_await attach(id, false);
  if (!attached.ok()) co_return attached.error();
  HijackedStream& stream = *attached.value();

  if (must_start) {
    // stop() or kill() may have come while we attached.
    if (stopped_before_start_.count(id)) {
      stream.close();
      co_return ExitStatus{kKilledExitCode, false};
    }
    to_start_.erase(id);
    auto started = co_await call(http::verb::post, "/containers/" + id + "/start");
    if (!started.ok() || (started->status != 204 && started->status != 304)) {
      stream.close();
      if (!started.ok()) co_return started.error();
      co_return api::engine_error(started->status, started->body, "starting container " + id);
    }
  }
  co_return co_await stream_until_exit(id, stream, sink);
}

awaitable<Result<std::unique_ptr<HijackedStream>>> DockerRuntime::attach(const std::string& id,
                                                                         bool with_stdin) {
  HttpRequest attach_req;
  attach_req.method = http::verb::post;
  attach_req.target = versioned("/containers/" + id + "/attach?stream=1&stdout=1&stderr=1" +
                                (with_stdin ? "&stdin=1" : ""));
  co_return co_await HijackedStream::open(client_.endpoint(), client_.build(attach_req),
                                          config_.request_timeout, "attaching to container " + id);
}

awaitable<Result<ExitStatus>> DockerRuntime::stream_until_exit(const std::string& id,
                                                               HijackedStream& stream,
                                                               const OutputSink& sink) {
  auto pumped = co_await pump(stream, [&sink](StreamKind kind, std::string_view data) {
    if (kind != StreamKind::kStdin && sink) sink(data);
  });
  stream.close();
  if (!pumped.ok()) co_return pumped.error();
  co_return co_await exit_status(id);
}

awaitable<Result<void>> DockerRuntime::start_held(const std::string& id) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  if (!to_start_.count(id)) {
    co_return make_error(ErrorCode::kInvalidSpec,
                         "start_held() takes a container this runtime created and has not "
                         "started: " +
                             id);
  }
  auto attached = co_await attach(id, true);
  if (!attached.ok()) co_return attached.error();
  if (stopped_before_start_.count(id) || !to_start_.count(id)) {
    attached.value()->close();
    co_return make_error(ErrorCode::kConflict,
                         "container " + id + " was stopped or removed before it started");
  }
  to_start_.erase(id);
  auto started = co_await call(http::verb::post, "/containers/" + id + "/start");
  if (!started.ok() || (started->status != 204 && started->status != 304)) {
    attached.value()->close();
    if (!started.ok()) co_return started.error();
    co_return api::engine_error(started->status, started->body, "starting container " + id);
  }
  held_[id] = std::move(attached.value());
  co_return ok_result();
}

bool DockerRuntime::held(const std::string& id) const {
  auto it = held_.find(id);
  return it != held_.end() && it->second->open_for_reading();
}

awaitable<Result<ExitStatus>> DockerRuntime::run_with_input(const std::string& id,
                                                            std::string input, OutputSink sink) {
  auto it = held_.find(id);
  if (it == held_.end() || !it->second->open_for_reading()) {
    co_return make_error(ErrorCode::kUnavailable,
                         "container " + id +
                             " is not held ready (start_held() was not called, "
                             "or the engine dropped its connection)");
  }
  // The stream belongs to this run from now on; remove() no longer finds it.
  std::unique_ptr<HijackedStream> stream = std::move(it->second);
  held_.erase(it);
  auto written = co_await stream->write(input, config_.request_timeout);
  // A container stopped meanwhile (cancel, timeout) no longer reads: its exit status is
  // what counts, as with run(), not the failed write.
  if (written.ok()) stream->shutdown_send();
  co_return co_await stream_until_exit(id, *stream, sink);
}

awaitable<Result<void>> DockerRuntime::stop(const std::string& id, std::chrono::seconds grace) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  if (to_start_.erase(id)) stopped_before_start_.insert(id);
  auto res = co_await call(http::verb::post,
                           "/containers/" + id + "/stop?t=" + std::to_string(grace.count()), "",
                           config_.request_timeout + grace);
  if (!res.ok()) co_return res.error();
  // 304: it was not running.
  if (res->status == 204 || res->status == 304 || res->status == 200) co_return ok_result();
  co_return api::engine_error(res->status, res->body, "stopping container " + id);
}

awaitable<Result<void>> DockerRuntime::kill(const std::string& id) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  if (to_start_.erase(id)) stopped_before_start_.insert(id);
  auto res = co_await call(http::verb::post, "/containers/" + id + "/kill?signal=SIGKILL");
  if (!res.ok()) co_return res.error();
  if (res->status == 204 || res->status == 200) co_return ok_result();
  if (res->status == 404)
    co_return api::engine_error(res->status, res->body, "killing container " + id);
  // Killing a container that is not running is refused (Docker: 409, Podman 4.3: 500);
  // the container's state, not the message, says whether that is what happened.
  Error refused = api::engine_error(res->status, res->body, "killing container " + id);
  auto inspected = co_await call(http::verb::get, "/containers/" + id + "/json");
  if (!inspected.ok() || inspected->status != 200) co_return refused;
  auto state = api::parse_container_state(inspected->body);
  if (state.ok() && !state->running) co_return ok_result();
  co_return refused;
}

awaitable<Result<void>> DockerRuntime::remove(const std::string& id) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  to_start_.erase(id);
  stopped_before_start_.erase(id);
  // A held container's stream is closed only after the engine removed it: closing it first
  // ends the container's stdin, and Podman refuses (500, "container state improper") to
  // force-remove a container caught exiting.
  std::unique_ptr<HijackedStream> held_stream;
  if (auto it = held_.find(id); it != held_.end()) {
    held_stream = std::move(it->second);
    held_.erase(it);
  }
  auto res = co_await call(http::verb::delete_, "/containers/" + id + "?force=1&v=1");
  if (held_stream) held_stream->close();
  if (!res.ok()) co_return res.error();
  if (res->status == 204 || res->status == 200 || res->status == 404) co_return ok_result();
  co_return api::engine_error(res->status, res->body, "removing container " + id);
}

awaitable<Result<std::vector<ContainerSummary>>> DockerRuntime::list(
    const std::string& label_filter) {
  if (label_filter.empty()) {
    co_return make_error(ErrorCode::kInvalidSpec,
                         "list() needs a label filter such as corral.runner=<id>");
  }
  auto res = co_await call(
      http::verb::get, "/containers/json?all=1&filters=" + api::label_filter_param(label_filter));
  if (!res.ok()) co_return res.error();
  if (res->status != 200) co_return api::engine_error(res->status, res->body, "listing containers");
  auto listed = api::parse_container_list(res->body);
  if (!listed.ok()) co_return listed.error();
  // Keep only exact matches, whatever the engine's filter semantics.
  auto& items = listed.value();
  std::erase_if(items,
                [&](const ContainerSummary& c) { return !labels_match(c.labels, label_filter); });
  co_return listed;
}

awaitable<Result<ExecResult>> DockerRuntime::exec(const std::string& id, const ExecSpec& spec) {
  if (!api::valid_object_ref(id)) co_return bad_ref(id);
  if (spec.command.empty()) co_return make_error(ErrorCode::kInvalidSpec, "exec needs a command");
  auto created =
      co_await call(http::verb::post, "/containers/" + id + "/exec", api::create_exec_body(spec));
  if (!created.ok()) co_return created.error();
  if (created->status != 201 && created->status != 200) {
    co_return api::engine_error(created->status, created->body, "exec in container " + id);
  }
  auto exec_id = api::parse_created_id(created->body);
  if (!exec_id.ok()) co_return exec_id.error();

  HttpRequest start_req;
  start_req.method = http::verb::post;
  start_req.target = versioned("/exec/" + exec_id.value() + "/start");
  start_req.body = R"({"Detach":false,"Tty":false})";
  auto started =
      co_await HijackedStream::open(client_.endpoint(), client_.build(start_req),
                                    config_.request_timeout, "starting an exec in container " + id);
  if (!started.ok()) co_return started.error();
  ExecResult result;
  auto pumped = co_await pump(*started.value(), [&](StreamKind kind, std::string_view data) {
    if (kind == StreamKind::kStdin) return;
    if (spec.on_output) {
      spec.on_output(data);
      return;
    }
    size_t room = spec.max_output_bytes - std::min(spec.max_output_bytes, result.output.size());
    if (data.size() > room) result.truncated = true;
    result.output.append(data.substr(0, room));
  });
  started.value()->close();
  if (!pumped.ok()) co_return pumped.error();

  // As with containers, the engine may record the exit a moment after the output ends.
  auto deadline = std::chrono::steady_clock::now() + config_.request_timeout;
  std::chrono::milliseconds delay{2};
  for (;;) {
    auto res = co_await call(http::verb::get, "/exec/" + exec_id.value() + "/json");
    if (!res.ok()) co_return res.error();
    if (res->status != 200)
      co_return api::engine_error(res->status, res->body, "inspecting an exec");
    auto state = api::parse_exec_state(res->body);
    if (!state.ok()) co_return state.error();
    if (!state->running) {
      result.exit_code = state->exit_code;
      co_return result;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return make_error(ErrorCode::kTimeout,
                           "the exec in container " + id + " closed its output but did not exit");
    }
    co_await async_sleep(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace corral

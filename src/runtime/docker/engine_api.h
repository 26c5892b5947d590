// The Docker Engine API's wire format (v1.41, which Podman's compatible service also
// serves): request bodies corral sends and the answers it reads. No I/O here, so every
// encoding and decoding rule is unit-tested; DockerRuntime does the talking.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "runtime/container_runtime.h"

namespace corral::docker_api {

// "alpine", "alpine:3.19", "registry:5000/team/app@sha256:..." -> repository + tag (or
// digest, which /images/create takes in its tag parameter). No tag means "latest".
struct ImageRef {
  std::string repository;
  std::string tag;
  std::string full() const;  // "repository:tag" or "repository@sha256:..."
};
// Rejects anything that is not an image reference (which also keeps it safe in a URL).
Result<ImageRef> parse_image_ref(std::string_view image);

// True for a container or exec id or name that is safe to put in a URL path.
bool valid_object_ref(std::string_view ref);

// POST /containers/create body: Cmd, Env, Labels, WorkingDir, no TTY, stdout+stderr
// attached, HostConfig limits (Memory = MemorySwap: no swap; NanoCpus; PidsLimit),
// NetworkMode, Binds, CapDrop ["ALL"], SecurityOpt ["no-new-privileges"]; with
// spec.open_stdin, OpenStdin + StdinOnce + AttachStdin.
std::string create_container_body(const ContainerSpec& spec);
// POST /containers/{id}/exec body.
std::string create_exec_body(const ExecSpec& spec);

// POST /images/create answers 200 and then reports failure inside its JSON-lines
// progress stream as {"error": "...", "errorDetail": {"message": "..."}}. Returns that
// message, or nullopt when the stream holds no error.
std::optional<std::string> pull_progress_error(std::string_view body);

// A typed error for an engine answer with an error status, carrying the engine's own
// "message" (never interpreted) in the message and in detail_json as
// {"engine_status": 404, "engine_message": "..."}. what names the operation, e.g.
// "creating a container". 400 -> kInvalidSpec, 404 -> kNotFound, 409 -> kConflict,
// anything else -> kEngine.
Error engine_error(int status, std::string_view body, std::string_view what);
// Same, with a code chosen by the caller (e.g. kImagePull).
Error engine_error(ErrorCode code, int status, std::string_view body, std::string_view what);
// The engine's "message" from an error body (or the body itself, shortened).
std::string engine_message(std::string_view body);

struct ContainerState {
  std::string status;  // "created", "running", "exited", ...
  bool running = false;
  int exit_code = -1;
  bool oom_killed = false;

  // True once the engine has recorded the exit: ExitCode and OOMKilled are final. Not the
  // same as !running: Podman reports Running=false with ExitCode 0 while "stopping".
  bool has_exited() const;
};
// GET /containers/{id}/json
Result<ContainerState> parse_container_state(std::string_view body);
// Config.Entrypoint of GET /images/{name}/json: empty when null or absent.
Result<std::vector<std::string>> parse_image_entrypoint(std::string_view body);
// GET /containers/json
Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body);
// POST /containers/create and POST /containers/{id}/exec: {"Id": "..."}
Result<std::string> parse_created_id(std::string_view body);

struct ExecState {
  bool running = false;
  int exit_code = -1;
};
// GET /exec/{id}/json
Result<ExecState> parse_exec_state(std::string_view body);

// GET /version
Result<RuntimeInfo> parse_version(std::string_view body);

// What GET /_ping's headers tell of a Podman service (Server: "Libpod/4.3.1 (linux)",
// Api-Version: "1.41"): name, version, API version and OS, no architecture. Empty when the
// server header is not Podman's, or says no version.
std::optional<RuntimeInfo> parse_podman_ping(std::string_view server, std::string_view api_version);

// The value of the filters query parameter of GET /containers/json selecting a label,
// URL-encoded: {"label":["corral.runner=r1"]}.
std::string label_filter_param(std::string_view label_filter);

}  // namespace corral::docker_api

#include "runtime/docker/engine_api.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_limits.h"
#include "net/http_client.h"

namespace corral::docker_api {

using nlohmann::json;

namespace {

bool image_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '/' || c == ':' || c == '@';
}

json string_list(const std::vector<std::string>& items) {
  json out = json::array();
  for (const auto& item : items) out.push_back(item);
  return out;
}

json env_list(const std::map<std::string, std::string>& env) {
  json out = json::array();
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// Parses body as JSON without throwing; what says which answer it was.
Result<json> parse_json(std::string_view body, std::string_view what) {
  // Nesting-limited (common/json_limits.h); the size is bounded by the HTTP client.
  auto parsed = parse_json_limited(body, "the engine's answer to " + std::string(what),
                                   {kMaxJsonDepth, std::numeric_limits<size_t>::max()});
  if (!parsed.ok()) {
    return make_error(ErrorCode::kEngine,
                      parsed.error().message + ": " + std::string(body.substr(0, 200)));
  }
  return parsed;
}

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

int int_field(const json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

}  // namespace

std::string ImageRef::full() const {
  if (tag.find(':') != std::string::npos) return repository + "@" + tag;
  return repository + ":" + tag;
}

Result<ImageRef> parse_image_ref(std::string_view image) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidSpec,
                      "'" + std::string(image) + "' is not an image reference (" + why +
                          "); write e.g. alpine:3.19 or registry.example.com/team/app@sha256:...");
  };
  if (image.empty()) return bad("it is empty");
  if (image.size() > 512) return bad("it is too long");
  for (char c : image) {
    if (!image_char(c)) return bad("unexpected character");
  }
  if (image.front() == '-' || image.front() == '/' || image.front() == ':' ||
      image.find("..") != std::string_view::npos) {
    return bad("malformed");
  }
  ImageRef ref;
  auto at = image.find('@');
  if (at != std::string_view::npos) {
    ref.repository = image.substr(0, at);
    ref.tag = image.substr(at + 1);
    if (ref.tag.find(':') == std::string::npos) return bad("a digest looks like sha256:<hex>");
  } else {
    auto slash = image.rfind('/');
    auto colon = image.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
      ref.repository = image.substr(0, colon);
      ref.tag = image.substr(colon + 1);
    } else {
      ref.repository = image;
      ref.tag = "latest";
    }
  }
  if (ref.repository.empty() || ref.tag.empty()) return bad("empty name or tag");
  return ref;
}

bool valid_object_ref(std::string_view ref) {
  if (ref.empty() || ref.size() > 256) return false;
  for (char c : ref) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return ref.front() != '.' && ref.front() != '-';
}

std::string create_container_body(const ContainerSpec& spec) {
  json host;
  if (spec.memory_bytes > 0) {
    host["Memory"] = spec.memory_bytes;
    host["MemorySwap"] = spec.memory_bytes;  // equal to Memory: no swap on top
  }
  if (spec.cpus > 0) host["NanoCpus"] = static_cast<int64_t>(std::llround(spec.cpus * 1e9));
  if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  if (!spec.network_mode.empty()) host["NetworkMode"] = spec.network_mode;
  if (!spec.binds.empty()) host["Binds"] = string_list(spec.binds);
  if (spec.cap_drop_all) host["CapDrop"] = json::array({"ALL"});
  if (spec.no_new_privileges) host["SecurityOpt"] = json::array({"no-new-privileges"});
  if (spec.read_only_rootfs) host["ReadonlyRootfs"] = true;
  if (!spec.tmpfs.empty()) {
    json tmpfs = json::object();
    for (const auto& path : spec.tmpfs) tmpfs[path] = "rw,nosuid,nodev,mode=1777";
    host["Tmpfs"] = std::move(tmpfs);
  }

  json body;
  body["Image"] = spec.image;
  if (!spec.command.empty()) body["Cmd"] = string_list(spec.command);
  if (!spec.entrypoint.empty()) body["Entrypoint"] = string_list(spec.entrypoint);
  body["Env"] = env_list(spec.env);
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) body["User"] = spec.user;
  json labels = json::object();
  for (const auto& [k, v] : spec.labels) labels[k] = v;
  body["Labels"] = std::move(labels);
  body["Tty"] = false;
  body["OpenStdin"] = spec.open_stdin;
  body["StdinOnce"] = spec.open_stdin;
  body["AttachStdin"] = spec.open_stdin;
  body["AttachStdout"] = true;
  body["AttachStderr"] = true;
  body["HostConfig"] = std::move(host);
  return body.dump();
}

std::string create_exec_body(const ExecSpec& spec) {
  json body;
  body["Cmd"] = string_list(spec.command);
  if (!spec.env.empty()) body["Env"] = env_list(spec.env);
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  if (!spec.user.empty()) body["User"] = spec.user;
  body["Tty"] = false;
  body["AttachStdin"] = false;
  body["AttachStdout"] = true;
  body["AttachStderr"] = true;
  return body.dump();
}

std::optional<std::string> pull_progress_error(std::string_view body) {
  // Docker separates the objects with "\r\n", Podman with "\n"; parse one line at a time.
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty()) continue;
    auto parsed_event = parse_json_limited(line, "a pull progress line");
    json event = parsed_event.ok() ? std::move(parsed_event.value()) : json();
    if (!event.is_object()) {
      return "the engine's pull progress is unreadable: " + std::string(line.substr(0, 200));
    }
    auto detail = event.find("errorDetail");
    if (detail != event.end() && detail->is_object()) {
      std::string message = string_field(*detail, "message");
      if (!message.empty()) return message;
    }
    auto error = event.find("error");
    if (error != event.end() && !error->is_null()) {
      std::string message = error->is_string() ? error->get<std::string>() : error->dump();
      return message.empty() ? "the engine reported a failed pull" : message;
    }
  }
  return std::nullopt;
}

std::string engine_message(std::string_view body) {
  auto parsed = parse_json_limited(body, "the engine's error");
  if (parsed.ok() && parsed->is_object()) {
    std::string message = string_field(*parsed, "message");
    if (!message.empty()) return message;
  }
  std::string text(body.substr(0, 500));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text.empty() ? "no details given" : text;
}

Error engine_error(ErrorCode code, int status, std::string_view body, std::string_view what) {
  std::string message = engine_message(body);
  Error error = make_error(code, std::string(what) + ": the container engine answered " +
                                     std::to_string(status) + ": " + message);
  error.detail_json = json{{"engine_status", status}, {"engine_message", message}}.dump();
  return error;
}

Error engine_error(int status, std::string_view body, std::string_view what) {
  ErrorCode code = ErrorCode::kEngine;
  if (status == 400) code = ErrorCode::kInvalidSpec;
  if (status == 404) code = ErrorCode::kNotFound;
  if (status == 409) code = ErrorCode::kConflict;
  return engine_error(code, status, body, what);
}

bool ContainerState::has_exited() const {
  // Docker: exited, dead. Podman also says stopped (and, for a moment, stopping).
  if (status.empty()) return !running;
  return status == "exited" || status == "stopped" || status == "dead";
}

Result<ContainerState> parse_container_state(std::string_view body) {
  auto parsed = parse_json(body, "a container inspection");
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  auto state = j.find("State");
  if (state == j.end() || !state->is_object()) {
    return make_error(ErrorCode::kEngine, "the engine's container inspection has no State");
  }
  ContainerState out;
  out.status = string_field(*state, "Status");
  out.running = bool_field(*state, "Running");
  out.exit_code = int_field(*state, "ExitCode", -1);
  out.oom_killed = bool_field(*state, "OOMKilled");
  return out;
}

Result<std::vector<std::string>> parse_image_entrypoint(std::string_view body) {
  auto parsed = parse_json(body, "an image inspection");
  if (!parsed.ok()) return parsed.error();
  std::vector<std::string> out;
  auto config = parsed->find("Config");
  if (config == parsed->end() || !config->is_object()) return out;
  auto entrypoint = config->find("Entrypoint");
  if (entrypoint == config->end() || entrypoint->is_null()) return out;
  if (entrypoint->is_string()) return std::vector<std::string>{entrypoint->get<std::string>()};
  if (!entrypoint->is_array()) {
    return make_error(ErrorCode::kEngine,
                      "the engine's image inspection has an Entrypoint that "
                      "is neither a list nor a string");
  }
  for (const auto& arg : *entrypoint) {
    if (!arg.is_string()) {
      return make_error(ErrorCode::kEngine,
                        "the engine's image inspection has a non-string "
                        "Entrypoint argument");
    }
    out.push_back(arg.get<std::string>());
  }
  return out;
}

Result<std::vector<ContainerSummary>> parse_container_list(std::string_view body) {
  auto parsed = parse_json(body, "a container listing");
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_array()) {
    return make_error(ErrorCode::kEngine, "the engine's container listing is not an array");
  }
  std::vector<ContainerSummary> out;
  for (const auto& item : parsed.value()) {
    if (!item.is_object()) continue;
    ContainerSummary summary;
    summary.id = string_field(item, "Id");
    summary.state = string_field(item, "State");
    auto labels = item.find("Labels");
    if (labels != item.end() && labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (v.is_string()) summary.labels[k] = v.get<std::string>();
      }
    }
    out.push_back(std::move(summary));
  }
  return out;
}

Result<std::string> parse_created_id(std::string_view body) {
  auto parsed = parse_json(body, "a create request");
  if (!parsed.ok()) return parsed.error();
  std::string id = parsed->is_object() ? string_field(parsed.value(), "Id") : "";
  if (!valid_object_ref(id)) {
    return make_error(ErrorCode::kEngine, "the engine's answer to a create request has no Id: " +
                                              std::string(body.substr(0, 200)));
  }
  return id;
}

Result<ExecState> parse_exec_state(std::string_view body) {
  auto parsed = parse_json(body, "an exec inspection");
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_object()) return make_error(ErrorCode::kEngine, "malformed exec inspection");
  ExecState out;
  out.running = bool_field(parsed.value(), "Running");
  out.exit_code = int_field(parsed.value(), "ExitCode", -1);
  return out;
}

Result<RuntimeInfo> parse_version(std::string_view body) {
  auto parsed = parse_json(body, "GET /version");
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  if (!j.is_object()) return make_error(ErrorCode::kEngine, "malformed /version answer");
  RuntimeInfo info;
  info.name = "Docker Engine";
  auto components = j.find("Components");
  if (components != j.end() && components->is_array() && !components->empty() &&
      (*components)[0].is_object()) {
    std::string name = string_field((*components)[0], "Name");
    if (!name.empty() && name != "Engine") info.name = name;
  }
  info.version = string_field(j, "Version");
  info.api_version = string_field(j, "ApiVersion");
  info.os = string_field(j, "Os");
  info.arch = string_field(j, "Arch");
  return info;
}

std::optional<RuntimeInfo> parse_podman_ping(std::string_view server,
                                             std::string_view api_version) {
  constexpr std::string_view kPrefix = "Libpod/";
  if (!server.starts_with(kPrefix)) return std::nullopt;
  server.remove_prefix(kPrefix.size());
  RuntimeInfo info;
  info.name = "Podman Engine";
  auto space = server.find(' ');
  info.version = std::string(server.substr(0, space));
  if (info.version.empty()) return std::nullopt;
  if (space != std::string_view::npos) {
    std::string_view rest = server.substr(space + 1);
    if (rest.size() > 2 && rest.front() == '(' && rest.back() == ')') {
      info.os = std::string(rest.substr(1, rest.size() - 2));
    }
  }
  info.api_version = std::string(api_version);
  return info;
}

std::string label_filter_param(std::string_view label_filter) {
  json filters;
  filters["label"] = json::array({std::string(label_filter)});
  return url_encode(filters.dump());
}

}  // namespace corral::docker_api

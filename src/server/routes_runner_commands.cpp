// Remote commands (docs/runner.md, Remote control): an admin tells a runner to drain,
// resume, restart or update. The command is kept in the store; a claim the runner has
// parked on this server answers at once with it, otherwise the runner's next heartbeat
// answer carries it; the runner reports how it went in a later heartbeat.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/spawn.h"
#include "server/context.h"
#include "server/json_body.h"

namespace corral {

namespace {

// The runner binary the server offers (--runner-binary), read afresh each time: an operator
// who replaces the file offers the new one from then on.
struct OfferedBinary {
  std::string bytes;
  std::string sha256;
  std::string version;
};

Result<OfferedBinary> read_offered_binary(const std::string& path, bool with_version) {
  if (path.empty()) {
    return make_error(ErrorCode::kConflict,
                      "this server offers no runner binary: start it with --runner-binary PATH "
                      "(CORRAL_RUNNER_BINARY) to update runners");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot read the runner binary " + path + " (--runner-binary)");
  }
  OfferedBinary offered{bytes.str(), "", ""};
  offered.sha256 = sha256_hex(offered.bytes);
  if (with_version) {
    RunOptions options;
    options.timeout = std::chrono::seconds(10);  // a binary that hangs must not hold the server
    auto out = run_process({path, "--version"}, options);
    if (!out.ok() || out->timed_out || out->exit_code != 0) {
      return make_error(ErrorCode::kUnavailable,
                        "the runner binary " + path + " does not answer --version: " +
                            (out.ok() ? out->output.substr(0, 200) : out.error().message));
    }
    offered.version = out->output;
    while (!offered.version.empty() &&
           (offered.version.back() == '\n' || offered.version.back() == ' '))
      offered.version.pop_back();
  }
  return offered;
}

awaitable<Response> post_command(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok()) co_return error_of(r.error());
  auto body = parse_json_body(req);
  if (!body.ok()) co_return error_of(body.error());
  if (auto r = require_object(*body, "{type}"); !r.ok()) co_return error_of(r.error());
  auto type = optional_string(*body, "type", "");
  if (!type.ok()) co_return error_of(type.error());
  const auto& types = RunnerControl::kTypes;
  if (std::find(std::begin(types), std::end(types), *type) == std::end(types)) {
    co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                  "field 'type': must be one of drain, resume, restart, update"));
  }
  RunnerControl control = new_runner_control(ctx, *caller, req.params["id"], *type);
  if (control.type == "update") {
    auto offered =
        co_await ctx.db([&] { return read_offered_binary(ctx.config.runner_binary, true); });
    if (!offered.ok()) co_return error_of(offered.error());
    control.version = offered->version;
    control.sha256 = offered->sha256;
  }
  auto added = co_await send_runner_control(ctx, std::move(control));
  if (!added.ok()) co_return error_of(added.error());
  co_return json_ok(to_json(*added), http::status::created);
}

}  // namespace

RunnerControl new_runner_control(ServerContext& ctx, const Token& caller, std::string runner_id,
                                 std::string type) {
  RunnerControl control;
  control.id = new_id("cmd");
  control.tenant = caller.tenant;
  control.runner_id = std::move(runner_id);
  control.type = std::move(type);
  control.created_by = caller.id;
  control.created_at = ctx.clock.now_ms();
  return control;
}

awaitable<Result<RunnerControl>> send_runner_control(ServerContext& ctx, RunnerControl control) {
  auto added = co_await ctx.db([&]() -> Result<RunnerControl> {
    // An admin's drain holds across the runner's restarts; resume ends it (as the
    // /drain and /resume routes do). The command is stored before the drain flag: a
    // heartbeat in between that saw the flag without the command would tell the runner a
    // bare drain, and the runner, leaving the parked claim that carries the command, would
    // never acknowledge it.
    if (control.type == "resume")
      CORRAL_TRY(ctx.store.resume_runner(control.tenant, control.runner_id));
    auto stored = ctx.store.add_runner_control(control);
    if (stored.ok() && control.type == "drain")
      CORRAL_TRY(ctx.store.drain_runner(control.tenant, control.runner_id));
    return stored;
  });
  if (!added.ok()) co_return added.error();
  ctx.runner_snapshots->changed(control.tenant);
  bool parked = ctx.waiters.command_for(added->runner_id);
  spdlog::info("{} asked runner {} to {} ({}; {})", added->created_by, added->runner_id,
               added->type, added->id,
               parked ? "handed to its parked claim" : "with its next heartbeat");
  co_return std::move(added.value());
}

namespace {

awaitable<Response> list_commands(ServerContext& ctx, RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return error_of(caller.error());
  if (auto r = require_kind(*caller, {TokenKind::kAdmin, TokenKind::kUser}); !r.ok())
    co_return error_of(r.error());
  std::string id = req.params["id"];
  auto controls =
      co_await ctx.db([&] { return ctx.store.list_runner_controls(caller->tenant, id, 100); });
  if (!controls.ok()) co_return error_of(controls.error());
  json list = json::array();
  for (const auto& c : *controls) list.push_back(to_json(c));
  co_return json_ok({{"commands", list}});
}

awaitable<Response> runner_binary(ServerContext& ctx, RequestContext& req) {
  auto runner = co_await authenticate_runner(ctx, req);
  if (!runner.ok()) co_return error_of(runner.error());
  if (ctx.config.runner_binary.empty()) {
    co_return error_of(
        make_error(ErrorCode::kNotFound, "this server offers no runner binary (--runner-binary)"));
  }
  auto offered =
      co_await ctx.db([&] { return read_offered_binary(ctx.config.runner_binary, false); });
  if (!offered.ok()) co_return error_of(offered.error());
  Response res{http::status::ok, req.msg.version()};
  res.set(http::field::content_type, "application/octet-stream");
  res.set("X-Corral-Sha256", offered->sha256);
  res.body() = std::move(offered->bytes);
  res.prepare_payload();
  co_return res;
}

}  // namespace

awaitable<Result<void>> record_command_results(ServerContext& ctx, const std::string& runner_id,
                                               const json& body) {
  auto results = body.find("command_results");
  if (results == body.end()) co_return Result<void>{};
  auto invalid = make_error(ErrorCode::kInvalidSpec,
                            "field 'command_results': must be an array of {id: string, state: "
                            "\"succeeded\" | \"failed\", message: string}");
  if (!results->is_array()) co_return invalid;
  for (const auto& r : *results) {
    if (!r.is_object() || !r.contains("id") || !r["id"].is_string() || !r.contains("state") ||
        !r["state"].is_string() || (r["state"] != "succeeded" && r["state"] != "failed") ||
        (r.contains("message") && !r["message"].is_string()))
      co_return invalid;
  }
  TimeMs now = ctx.clock.now_ms();
  co_return co_await ctx.db([&]() -> Result<void> {
    for (const auto& r : *results) {
      std::string message = r.value("message", "");
      if (message.size() > 2000) message.resize(2000);
      CORRAL_TRY(ctx.store.finish_runner_control(runner_id, r["id"].get<std::string>(),
                                                 r["state"] == "succeeded", message, now));
    }
    return Result<void>{};
  });
}

awaitable<Result<std::vector<RunnerCommand>>> deliver_commands(ServerContext& ctx,
                                                               const std::string& runner_id) {
  TimeMs now = ctx.clock.now_ms();
  auto controls =
      co_await ctx.db([&] { return ctx.store.deliver_runner_controls(runner_id, now); });
  if (!controls.ok()) co_return controls.error();
  std::vector<RunnerCommand> commands;
  for (const auto& c : *controls) commands.push_back(c.command());
  co_return commands;
}

void add_runner_command_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/runners/{id}/commands",
             [&ctx](RequestContext& req) { return post_command(ctx, req); });
  router.add(http::verb::get, "/api/v1/runners/{id}/commands",
             [&ctx](RequestContext& req) { return list_commands(ctx, req); });
  router.add(http::verb::get, "/api/v1/runner/binary",
             [&ctx](RequestContext& req) { return runner_binary(ctx, req); });
}

}  // namespace corral

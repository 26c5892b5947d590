// /api/v1/tokens: admin-managed API keys. A user may make runner registration tokens of its
// own tenant: runners registered with them are that user's (see --owner-only).
#include <spdlog/spdlog.h>

#include <regex>

#include "common/crypto.h"
#include "server/auth_cache.h"
#include "server/context.h"
#include "server/json_body.h"

namespace corral {

namespace {

// What a runner token fixes for the runners it registers (RunnerTokenPolicy). An admin may pin
// group and labels and choose owner_only; a user's runner tokens are always owner-only and
// pin nothing else (their runners take only that user's jobs whatever they declare).
Result<RunnerTokenPolicy> parse_runner_policy(const json& body, const Token& caller) {
  RunnerTokenPolicy policy;
  bool admin = caller.kind == TokenKind::kAdmin;
  if (body.contains("group") && !body["group"].is_null()) {
    if (!admin)
      return make_error(ErrorCode::kForbidden, "only an admin may pin a runner token's group");
    const auto& group = body["group"];
    if (!group.is_string() || group.get<std::string>().empty() ||
        group.get<std::string>().size() > 128) {
      return invalid_field("group", "must be a group name of 1-128 characters");
    }
    policy.group = body["group"].get<std::string>();
  }
  if (body.contains("labels") && !body["labels"].is_null()) {
    if (!admin)
      return make_error(ErrorCode::kForbidden, "only an admin may pin a runner token's labels");
    // The same rules as a runner's own labels.
    auto reg = parse_runner_registration(json{{"name", "x"}, {"labels", body["labels"]}});
    if (!reg.ok()) return reg.error();
    policy.labels = reg->labels;
  }
  if (body.contains("owner_only") && !body["owner_only"].is_null()) {
    if (!body["owner_only"].is_boolean())
      return invalid_field("owner_only", "must be true or false");
    policy.owner_only = body["owner_only"].get<bool>();
    if (!admin && !policy.owner_only) {
      return make_error(ErrorCode::kForbidden, "a user's runner tokens are always owner-only");
    }
  }
  if (!admin) policy.owner_only = true;
  return policy;
}

}  // namespace

void add_token_routes(Router& router, ServerContext& ctx) {
  router.add(
      http::verb::post, "/api/v1/tokens", [&ctx](RequestContext& req) -> awaitable<Response> {
        auto caller = co_await authenticate(ctx, req);
        if (!caller.ok()) co_return error_of(caller.error());
        if (auto r = require_kind(*caller, {TokenKind::kAdmin, TokenKind::kUser}); !r.ok())
          co_return error_of(r.error());
        auto body = parse_json_body(req);
        if (!body.ok()) co_return error_of(body.error());
        if (!body->is_object()) {
          co_return error_of(
              make_error(ErrorCode::kInvalidSpec, "body must be {kind, tenant, name}"));
        }
        auto kind_name = optional_string(*body, "kind", "");
        if (!kind_name.ok()) co_return error_of(kind_name.error());
        auto kind = parse_token_kind(*kind_name);
        if (!kind) {
          co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                        "field 'kind': must be one of admin, user, runner"));
        }
        auto tenant_field = optional_string(*body, "tenant", caller->tenant);
        if (!tenant_field.ok()) co_return error_of(tenant_field.error());
        std::string tenant = *tenant_field;
        static const std::regex kTenant("^[a-z0-9][a-z0-9_-]{0,62}$");
        if (!std::regex_match(tenant, kTenant)) {
          co_return error_of(make_error(ErrorCode::kInvalidSpec,
                                        "field 'tenant': 1-63 lower-case letters, digits, _ or -"));
        }
        auto name_field = optional_string(*body, "name", "");
        if (!name_field.ok()) co_return error_of(name_field.error());
        std::string name = *name_field;
        if (name.empty() || name.size() > 128) {
          co_return error_of(
              make_error(ErrorCode::kInvalidSpec, "field 'name': 1-128 characters are required"));
        }
        if (caller->kind == TokenKind::kUser &&
            (*kind != TokenKind::kRunner || tenant != caller->tenant)) {
          co_return error_of(make_error(ErrorCode::kForbidden,
                                        "a user token may make only runner tokens of its own "
                                        "tenant; ask an admin for others"));
        }
        std::string secret = make_token_secret();
        Token token = make_token(*kind, tenant, name, secret, ctx.clock.now_ms());
        token.created_by = caller->id;
        if (*kind == TokenKind::kRunner) {
          auto policy = parse_runner_policy(*body, *caller);
          if (!policy.ok()) co_return error_of(policy.error());
          token.runner_policy = *policy;
        } else if (body->contains("group") || body->contains("labels") ||
                   body->contains("owner_only")) {
          co_return error_of(
              invalid_field("group", "group, labels and owner_only apply to runner tokens only"));
        }
        auto inserted = co_await ctx.db([&] { return ctx.store.insert_token(token); });
        if (!inserted.ok()) co_return error_of(inserted.error());
        json out = to_json(token);
        out["token"] = secret;  // shown once, never again
        co_return json_ok(out, http::status::created);
      });

  router.add(http::verb::get, "/api/v1/tokens", [&ctx](RequestContext& req) -> awaitable<Response> {
    auto caller = co_await authenticate(ctx, req);
    if (!caller.ok()) co_return error_of(caller.error());
    if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok()) co_return error_of(r.error());
    auto tokens = co_await ctx.db([&] { return ctx.store.list_tokens(); });
    if (!tokens.ok()) co_return error_of(tokens.error());
    json list = json::array();
    for (const auto& t : *tokens) list.push_back(to_json(t));
    co_return json_ok({{"tokens", list}});
  });

  // Who the caller is: the token it sent (any kind), never its secret. What the CLI's
  // `corral whoami` and the dashboard ask first.
  router.add(http::verb::get, "/api/v1/me", [&ctx](RequestContext& req) -> awaitable<Response> {
    auto caller = co_await authenticate(ctx, req);
    if (!caller.ok()) co_return error_of(caller.error());
    json out = to_json(*caller);
    out["settings"] = to_json(caller->settings);
    co_return json_ok(out);
  });

  router.add(
      http::verb::delete_, "/api/v1/tokens/{id}",
      [&ctx](RequestContext& req) -> awaitable<Response> {
        auto caller = co_await authenticate(ctx, req);
        if (!caller.ok()) co_return error_of(caller.error());
        if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok())
          co_return error_of(r.error());
        std::string id = req.params["id"];
        auto revoked =
            co_await ctx.db([&] { return ctx.store.revoke_token(id, ctx.clock.now_ms()); });
        if (!revoked.ok()) co_return error_of(revoked.error());
        // Runner tokens and runner secrets went with it: drop every cached credential here (other
        // servers' caches expire within AuthCache::kTtl).
        AuthCache::instance().clear();
        ctx.runner_snapshots->changed_all();
        if (!revoked->runners.empty()) {
          spdlog::warn(
              "token {} revoked: {} runner token(s), {} runner(s) and {} schedule(s) with it", id,
              revoked->runner_tokens.size(), revoked->runners.size(), revoked->schedules.size());
        }
        co_await announce_requeued(ctx, revoked->token.tenant, revoked->requeued_jobs);
        co_return json_ok(to_json(*revoked));
      });
}

}  // namespace corral

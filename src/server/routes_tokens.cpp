// /api/v1/tokens: admin-managed API keys. A user may make runner registration tokens of its
// own tenant: runners registered with them are that user's (see --owner-only).
#include <regex>

#include "common/crypto.h"
#include "server/auth_cache.h"
#include "server/context.h"
#include "server/json_body.h"

namespace corral {

void add_token_routes(Router& router, ServerContext& ctx) {
  router.add(http::verb::post, "/api/v1/tokens", [&ctx](RequestContext& req) -> awaitable<Response> {
    auto caller = co_await authenticate(ctx, req);
    if (!caller.ok()) co_return error_of(caller.error());
    if (auto r = require_kind(*caller, {TokenKind::kAdmin, TokenKind::kUser}); !r.ok()) co_return error_of(r.error());
    auto body = parse_json_body(req);
    if (!body.ok()) co_return error_of(body.error());
    if (!body->is_object()) {
      co_return error_of(make_error(ErrorCode::kInvalidSpec, "body must be {kind, tenant, name}"));
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
      co_return error_of(make_error(ErrorCode::kInvalidSpec, "field 'name': 1-128 characters are required"));
    }
    if (caller->kind == TokenKind::kUser && (*kind != TokenKind::kRunner || tenant != caller->tenant)) {
      co_return error_of(make_error(ErrorCode::kForbidden,
                                    "a user token may make only runner tokens of its own tenant; ask an admin for others"));
    }
    std::string secret = make_token_secret();
    Token token = make_token(*kind, tenant, name, secret, ctx.clock.now_ms());
    token.created_by = caller->id;
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

  router.add(http::verb::delete_, "/api/v1/tokens/{id}", [&ctx](RequestContext& req) -> awaitable<Response> {
    auto caller = co_await authenticate(ctx, req);
    if (!caller.ok()) co_return error_of(caller.error());
    if (auto r = require_kind(*caller, {TokenKind::kAdmin}); !r.ok()) co_return error_of(r.error());
    std::string id = req.params["id"];
    auto revoked = co_await ctx.db([&] { return ctx.store.revoke_token(id, ctx.clock.now_ms()); });
    if (!revoked.ok()) co_return error_of(revoked.error());
    AuthCache::instance().forget_token(id);
    co_return json_ok(to_json(*revoked));
  });
}

}  // namespace corral

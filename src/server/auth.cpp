// Authentication: API tokens (admin, user, runner registration) and runner secrets. Both are
// stored only as SHA-256 hashes and compared in constant time.
#include <spdlog/spdlog.h>

#include "common/crypto.h"
#include "server/auth_cache.h"
#include "server/context.h"

namespace corral {

namespace {
std::string bearer(const RequestContext& req) {
  std::string value = req.header(http::field::authorization);
  if (value.size() > 7 && (value.rfind("Bearer ", 0) == 0 || value.rfind("bearer ", 0) == 0)) {
    return value.substr(7);
  }
  // ?token= only where a browser cannot send a header: the log stream's WebSocket. Anywhere
  // else a token in the URL would only end up in access logs and browser history.
  if (req.path.ends_with("/logs/stream")) return req.query_value("token");
  return "";
}

Error unauthorized(const std::string& why) {
  return make_error(ErrorCode::kUnauthorized, why);
}
}  // namespace

awaitable<Result<Token>> authenticate(ServerContext& ctx, const RequestContext& req) {
  std::string presented = bearer(req);
  if (presented.empty()) {
    co_return unauthorized("missing token: send 'Authorization: Bearer <token>'");
  }
  std::string hash = sha256_hex(presented);
  if (auto cached = AuthCache::instance().token(hash)) co_return *cached;
  auto found = co_await ctx.read([&] { return ctx.store.find_token_by_hash(hash); });
  if (!found.ok()) co_return found.error();
  if (!found.value() || !constant_time_equal(found.value()->hash, hash)) {
    co_return unauthorized("unknown token");
  }
  if (found.value()->revoked_at > 0) co_return unauthorized("this token was revoked");
  // Its last use, to within a minute: only here, on a cache miss, at most one write a minute.
  TimeMs now = ctx.clock.now_ms();
  if (now - found.value()->last_used_at >= 60'000) {
    const std::string& id = found.value()->id;
    if (auto touched = co_await ctx.db([&] { return ctx.store.touch_token(id, now); });
        !touched.ok()) {
      spdlog::warn("token {}: last use not recorded: {}", id, touched.error().message);
    }
    found.value()->last_used_at = now;
  }
  AuthCache::instance().put_token(hash, *found.value());
  co_return *found.value();
}

awaitable<Result<Token>> authenticate_user(ServerContext& ctx, const RequestContext& req) {
  auto caller = co_await authenticate(ctx, req);
  if (!caller.ok()) co_return caller;
  if (auto r = require_kind(*caller, {TokenKind::kAdmin, TokenKind::kUser}); !r.ok())
    co_return r.error();
  co_return caller;
}

Result<void> require_kind(const Token& token, std::initializer_list<TokenKind> kinds) {
  for (auto k : kinds) {
    if (token.kind == k) return {};
  }
  std::string allowed;
  for (auto k : kinds) allowed += (allowed.empty() ? "" : " or ") + std::string(to_string(k));
  return make_error(ErrorCode::kForbidden, "this needs a token of kind " + allowed +
                                               "; yours is a " +
                                               std::string(to_string(token.kind)) + " token");
}

std::string make_runner_secret() {
  return "crs_" + random_hex(32);
}

std::string make_token_secret() {
  return "crl_" + random_hex(24);
}

Token make_token(TokenKind kind, const std::string& tenant, const std::string& name,
                 const std::string& secret, TimeMs now) {
  Token token;
  token.id = new_id("tok");
  token.kind = kind;
  token.tenant = tenant;
  token.name = name;
  token.hash = sha256_hex(secret);
  token.created_at = now;
  return token;
}

awaitable<Result<Runner>> authenticate_runner(ServerContext& ctx, const RequestContext& req,
                                              const std::string& expected_runner_id) {
  std::string presented = bearer(req);
  if (presented.empty()) {
    co_return unauthorized("missing runner secret: send 'Authorization: Bearer <secret>'");
  }
  std::string hash = sha256_hex(presented);
  if (auto cached = AuthCache::instance().runner(hash)) {
    if (!expected_runner_id.empty() && cached->id != expected_runner_id) {
      co_return make_error(ErrorCode::kForbidden, "this secret belongs to another runner");
    }
    co_return *cached;
  }
  auto runner = co_await ctx.db([&] { return ctx.store.find_runner_by_secret_hash(hash); });
  if (!runner.ok()) co_return runner.error();
  if (!runner.value() || !constant_time_equal(runner.value()->secret_hash, hash)) {
    co_return unauthorized("unknown runner secret; the runner must register (again)");
  }
  AuthCache::instance().put_runner(hash, *runner.value());
  if (!expected_runner_id.empty() && runner.value()->id != expected_runner_id) {
    co_return make_error(ErrorCode::kForbidden, "this secret belongs to another runner");
  }
  co_return *runner.value();
}

}  // namespace corral

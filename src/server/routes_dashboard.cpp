// The web dashboard: GET / serves index.html and GET /assets/{path...} the files under
// web/assets/, all from the copies embedded in the binary at build time
// (server/web_assets.h). Loading them needs no token; the page's API calls carry the token
// the user signs in with.
//
// Caching: file names carry no content hash, so every file is revalidated on each load
// ("no-cache") and answered 304 when its ETag still matches; a new binary is picked up at
// once and an unchanged one costs a few bytes per file.
#include <algorithm>

#include "server/context.h"
#include "server/web_assets.h"

namespace corral {

namespace {

// Only our own origin; the log stream is a WebSocket to the same host.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors "
    "'none'";

const WebAsset* find_asset(std::string_view path) {
  auto assets = web_assets();
  auto it =
      std::find_if(assets.begin(), assets.end(), [&](const WebAsset& a) { return a.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

Response serve(const RequestContext& req, const WebAsset& asset) {
  bool not_modified = req.msg[http::field::if_none_match] == asset.etag;
  Response res{not_modified ? http::status::not_modified : http::status::ok, req.msg.version()};
  res.set(http::field::server, "corral/" CORRAL_VERSION);
  res.set(http::field::content_type, asset.content_type);
  res.set(http::field::etag, asset.etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (!not_modified) res.body() = std::string(asset.bytes);
  res.prepare_payload();
  return res;
}

Response not_found(const std::string& path) {
  return error_of(make_error(ErrorCode::kNotFound, "no such dashboard file: " + path));
}

}  // namespace

void add_dashboard_routes(Router& router, ServerContext&) {
  router.add(http::verb::get, "/", [](RequestContext& req) -> awaitable<Response> {
    const WebAsset* index = find_asset("index.html");
    co_return index ? serve(req, *index) : not_found("index.html");
  });
  router.add(http::verb::get, "/assets/{path...}", [](RequestContext& req) -> awaitable<Response> {
    std::string path = "assets/" + req.params["path"];
    const WebAsset* asset = find_asset(path);
    co_return asset ? serve(req, *asset) : not_found(path);
  });
}

}  // namespace corral

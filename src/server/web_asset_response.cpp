#include "server/web_asset_response.h"

#include <algorithm>

namespace corral {

namespace {

// Only our own origin; the log stream is a WebSocket to the same host.
constexpr const char* kWebAssetContentSecurityPolicy =
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors "
    "'none'";

}  // namespace

const WebAsset* find_web_asset(std::string_view path) {
  auto assets = web_assets();
  auto it =
      std::find_if(assets.begin(), assets.end(), [&](const WebAsset& a) { return a.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

Response web_asset_response(const RequestContext& req, const WebAsset& asset) {
  bool not_modified = req.msg[http::field::if_none_match] == asset.etag;
  Response res{not_modified ? http::status::not_modified : http::status::ok, req.msg.version()};
  res.set(http::field::server, "corral/" CORRAL_VERSION);
  res.set(http::field::content_type, asset.content_type);
  res.set(http::field::etag, asset.etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", kWebAssetContentSecurityPolicy);
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  if (!not_modified) res.body() = std::string(asset.bytes);
  res.prepare_payload();
  return res;
}

}  // namespace corral

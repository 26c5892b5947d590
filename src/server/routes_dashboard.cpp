// The web dashboard: GET / serves index.html and GET /assets/{path...} the files under
// web/assets/, all from the copies embedded in the binary at build time
// (server/web_assets.h), revalidated by ETag (server/web_asset_response.h). Loading them
// needs no token; the page's API calls carry the token the user signs in with.
#include "server/context.h"
#include "server/web_asset_response.h"

namespace corral {

namespace {

Response not_found(const std::string& path) {
  return error_of(make_error(ErrorCode::kNotFound, "no such dashboard file: " + path));
}

}  // namespace

void add_dashboard_routes(Router& router, ServerContext&) {
  router.add(http::verb::get, "/", [](RequestContext& req) -> awaitable<Response> {
    const WebAsset* index = find_web_asset("index.html");
    co_return index ? web_asset_response(req, *index) : not_found("index.html");
  });
  router.add(http::verb::get, "/assets/{path...}", [](RequestContext& req) -> awaitable<Response> {
    std::string path = "assets/" + req.params["path"];
    const WebAsset* asset = find_web_asset(path);
    co_return asset ? web_asset_response(req, *asset) : not_found(path);
  });
}

}  // namespace corral

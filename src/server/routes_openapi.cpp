// GET /api/v1/openapi.json: the OpenAPI 3.1 document of this API. It is the hand-written
// web/openapi.json, embedded in the binary with the dashboard's files (server/web_assets.h)
// and revalidated by ETag like them. No token: it describes the API and holds no data.
// tests/unit/server/openapi_test.cpp fails when a route the router serves is missing from
// it, or it documents one the router does not serve.
#include "server/context.h"
#include "server/web_asset_response.h"

namespace corral {

void add_openapi_routes(Router& router, ServerContext&) {
  router.add(http::verb::get, "/api/v1/openapi.json",
             [](RequestContext& req) -> awaitable<Response> {
               const WebAsset* document = find_web_asset("openapi.json");
               if (!document) {
                 co_return error_of(make_error(
                     ErrorCode::kInternal, "this build has no API document (web/openapi.json)"));
               }
               co_return web_asset_response(req, *document);
             });
}

}  // namespace corral

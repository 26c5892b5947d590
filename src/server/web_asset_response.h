// Answering a GET with a file embedded from web/ (server/web_assets.h): the dashboard's files
// (routes_dashboard.cpp) and the API document (routes_openapi.cpp).
//
// Caching: file names carry no content hash, so every file is revalidated on each load
// ("no-cache") and answered 304 when its ETag still matches; a new binary is picked up at
// once and an unchanged one costs a few bytes per file.
#pragma once

#include <string_view>

#include "net/router.h"
#include "server/web_assets.h"

namespace corral {

// The embedded file at `path` (relative to web/, e.g. "assets/app.js"), or null.
const WebAsset* find_web_asset(std::string_view path);

// 200 with the file, its content type and ETag, or 304 (no body) when the request's
// If-None-Match is that ETag; with the security headers every embedded file gets.
Response web_asset_response(const RequestContext& req, const WebAsset& asset);

}  // namespace corral

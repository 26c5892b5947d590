// The dashboard's static files: everything under web/, embedded in the binary at build
// time by cmake/embed_web.cmake (the server never reads them from disk).
#pragma once

#include <span>
#include <string_view>

namespace corral {

struct WebAsset {
  std::string_view path;          // relative to web/, e.g. "assets/app.js"
  std::string_view content_type;  // from the file's extension
  std::string_view etag;          // quoted; a prefix of the file's SHA-256
  std::string_view bytes;
};

// Every embedded file, sorted by path.
std::span<const WebAsset> web_assets();

}  // namespace corral

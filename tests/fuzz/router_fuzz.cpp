// Fuzz target: request targets as the router sees them (split_target, url_decode, match).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "net/router.h"

namespace {

corral::Router& router() {
  static corral::Router r = [] {
    corral::Router built;
    corral::Handler none = [](corral::RequestContext&) -> corral::awaitable<corral::Response> {
      co_return corral::Response{};
    };
    for (const char* pattern :
         {"/api/v1/jobs", "/api/v1/jobs/{id}", "/api/v1/jobs/{id}/attempts/{attempt}/logs",
          "/api/v1/runners/{id}/claim", "/api/v1/schedules/{id}/resume", "/"}) {
      built.add(corral::http::verb::get, pattern, none);
      built.add(corral::http::verb::post, pattern, none);
    }
    return built;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  std::string path;
  std::map<std::string, std::string> query;
  corral::split_target(target, path, query);
  (void)corral::url_decode(target);
  auto match = router().match(corral::http::verb::get, path);
  if (match.handler && match.params.count("id") && match.params.at("id").empty()) __builtin_trap();
  return 0;
}

// Maps (method, path pattern) to a coroutine handler. Patterns are literal segments and
// {name} captures, e.g. /api/v1/jobs/{id}/attempts/{attempt}/logs. A last segment
// {name...} captures the rest of the path (one or more segments, joined by '/'), e.g.
// /assets/{path...} matches /assets/pages/jobs.js with path = "pages/jobs.js".
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/asio.h"
#include "net/websocket.h"

namespace corral {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct RequestContext {
  Request& msg;
  std::string path;                           // without the query
  std::map<std::string, std::string> params;  // {name} captures
  std::map<std::string, std::string> query;   // decoded query parameters
  std::string remote;                         // peer address, for logs
  // Set by HttpServer (a context made elsewhere has none): see watch_hangup.
  std::function<void(std::function<void()>)> on_hangup;

  // For long-polls: fn runs (on this request's strand) if the client hangs up before the
  // response is sent, e.g. a runner killed while its claim is parked. Once per request.
  void watch_hangup(std::function<void()> fn) {
    if (on_hangup) on_hangup(std::move(fn));
  }

  std::string query_value(const std::string& key, const std::string& def = "") const {
    auto it = query.find(key);
    return it == query.end() ? def : it->second;
  }
  std::string header(http::field f) const { return std::string(msg[f]); }
};

using Handler = std::function<awaitable<Response>(RequestContext&)>;
// A GET route that upgrades to a WebSocket (see net/websocket.h).
using WsHandler = std::function<awaitable<void>(RequestContext&, WebSocketUpgrade&)>;

class Router {
 public:
  void add(http::verb method, const std::string& pattern, Handler handler);
  void add_websocket(const std::string& pattern, WsHandler handler);

  struct Match {
    const Handler* handler = nullptr;
    const WsHandler* ws_handler = nullptr;  // set instead of handler for a WebSocket route
    std::map<std::string, std::string> params;
    bool path_known = false;   // some route has this path, with another method (405)
    std::string_view pattern;  // the matching route's pattern, as added
  };
  Match match(http::verb method, const std::string& path) const;

  // Every route, as (method, pattern), in the order they were added: for the API document.
  std::vector<std::pair<http::verb, std::string>> routes() const;

 private:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    WsHandler ws_handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b?x=1&y=%20" into path and decoded query parameters.
void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);
std::string url_decode(std::string_view s);

}  // namespace corral

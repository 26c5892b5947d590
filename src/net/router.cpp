#include "net/router.h"

#include "common/numbers.h"

namespace corral {

namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_rest_capture(const std::string& segment) {
  return segment.size() > 5 && segment.front() == '{' && segment.ends_with("...}");
}
}  // namespace

void Router::add(http::verb method, const std::string& pattern, Handler handler) {
  routes_.push_back({method, pattern, split_path(pattern), std::move(handler), {}});
}

void Router::add_websocket(const std::string& pattern, WsHandler handler) {
  routes_.push_back({http::verb::get, pattern, split_path(pattern), {}, std::move(handler)});
}

Router::Match Router::match(http::verb method, const std::string& path) const {
  Match result;
  auto segments = split_path(path);
  for (const auto& route : routes_) {
    bool rest = !route.segments.empty() && is_rest_capture(route.segments.back());
    bool fits =
        rest ? segments.size() >= route.segments.size() : segments.size() == route.segments.size();
    if (!fits) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < route.segments.size() && ok; ++i) {
      const auto& want = route.segments[i];
      if (rest && i + 1 == route.segments.size()) {
        std::string joined;  // the rest of the path, "a/b/c"
        for (size_t j = i; j < segments.size(); ++j) {
          joined += (j > i ? "/" : "") + url_decode(segments[j]);
        }
        params[want.substr(1, want.size() - 5)] = std::move(joined);  // "{name...}" -> "name"
      } else if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params[want.substr(1, want.size() - 2)] = url_decode(segments[i]);
      } else if (want != segments[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (route.method != method) {
      result.path_known = true;
      continue;
    }
    if (route.ws_handler)
      result.ws_handler = &route.ws_handler;
    else
      result.handler = &route.handler;
    result.params = std::move(params);
    result.pattern = route.pattern;
    return result;
  }
  return result;
}

std::vector<std::pair<http::verb, std::string>> Router::routes() const {
  std::vector<std::pair<http::verb, std::string>> out;
  for (const auto& route : routes_) out.emplace_back(route.method, route.pattern);
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(*parse_number<unsigned char>(s.substr(i + 1, 2), 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void split_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  auto q = target.find('?');
  path = std::string(target.substr(0, q));
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty()) {
      query[url_decode(part.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

}  // namespace corral

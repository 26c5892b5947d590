#include "net/endpoint.h"

#include "common/numbers.h"

namespace corral {

Result<Endpoint> Endpoint::parse(const std::string& url) {
  Endpoint ep;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kBadRequest,
                      "'" + url + "' is not a server address (" + why +
                          "); use http://host:port, tcp://host:port or unix:///path/to.sock");
  };
  std::string rest;
  if (url.rfind("unix://", 0) == 0) {
    ep.kind = Kind::kUnix;
    ep.socket_path = url.substr(7);
    if (ep.socket_path.empty() || ep.socket_path[0] != '/')
      return bad("the socket path must be absolute");
    return ep;
  }
  if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else if (url.rfind("tcp://", 0) == 0)
    rest = url.substr(6);
  else if (url.rfind("https://", 0) == 0)
    return bad("https is not supported yet; put a TLS proxy in front");
  else
    return bad("unknown scheme");
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return bad("no path allowed");
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    ep.host = rest;
    ep.port = 80;
  } else {
    ep.host = rest.substr(0, colon);
    auto port = parse_number<int>(std::string_view(rest).substr(colon + 1));
    if (!port) return bad("the port is not a number");
    if (*port <= 0 || *port > 65535) return bad("port out of range");
    ep.port = static_cast<uint16_t>(*port);
  }
  if (ep.host.empty()) return bad("missing host");
  return ep;
}

std::string Endpoint::host_header() const {
  if (kind == Kind::kUnix) return "localhost";
  return host + ":" + std::to_string(port);
}

std::string Endpoint::to_string() const {
  if (kind == Kind::kUnix) return "unix://" + socket_path;
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace corral

// Where to connect: "http://host:port", "tcp://host:port" or "unix:///path/to.sock".
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace corral {

struct Endpoint {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;         // tcp
  uint16_t port = 0;        // tcp
  std::string socket_path;  // unix

  static Result<Endpoint> parse(const std::string& url);
  std::string host_header() const;  // value of the Host header
  std::string to_string() const;
};

}  // namespace corral

// A short-lived cache of authenticated credentials, so most requests skip a store read.
//
// Keyed by the SHA-256 of the presented secret. Entries live for kTtl; revoking a token or
// re-registering a runner on this server drops its entries at once (another server of the
// same database may accept a revoked credential for up to kTtl).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/types.h"

namespace corral {

class AuthCache {
 public:
  static constexpr std::chrono::seconds kTtl{5};
  static AuthCache& instance();

  std::optional<Token> token(const std::string& hash);
  void put_token(const std::string& hash, const Token& token);
  // The runner's identity (id, tenant, registration); not its live state.
  std::optional<Runner> runner(const std::string& hash);
  void put_runner(const std::string& hash, const Runner& runner);

  void forget_token(const std::string& token_id);
  void forget_runner(const std::string& runner_id);
  // Everything: after a revocation whose reach (tokens, runners) is wider than one entry.
  void clear();

 private:
  template <typename T>
  struct Entry {
    T value;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry<Token>> tokens_;
  std::unordered_map<std::string, Entry<Runner>> runners_;
};

}  // namespace corral

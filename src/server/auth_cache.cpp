#include "server/auth_cache.h"

namespace corral {

namespace {
constexpr size_t kMaxEntries = 100'000;  // beyond this the cache starts over
}

AuthCache& AuthCache::instance() {
  static AuthCache cache;
  return cache;
}

std::optional<Token> AuthCache::token(const std::string& hash) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(hash);
  if (it == tokens_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

void AuthCache::put_token(const std::string& hash, const Token& token) {
  std::lock_guard lock(mu_);
  if (tokens_.size() >= kMaxEntries) tokens_.clear();
  tokens_[hash] = {token, std::chrono::steady_clock::now() + kTtl};
}

std::optional<Runner> AuthCache::runner(const std::string& hash) {
  std::lock_guard lock(mu_);
  auto it = runners_.find(hash);
  if (it == runners_.end()) return std::nullopt;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    runners_.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

void AuthCache::put_runner(const std::string& hash, const Runner& runner) {
  std::lock_guard lock(mu_);
  if (runners_.size() >= kMaxEntries) runners_.clear();
  runners_[hash] = {runner, std::chrono::steady_clock::now() + kTtl};
}

void AuthCache::forget_token(const std::string& token_id) {
  std::lock_guard lock(mu_);
  std::erase_if(tokens_, [&](const auto& kv) { return kv.second.value.id == token_id; });
}

void AuthCache::forget_runner(const std::string& runner_id) {
  std::lock_guard lock(mu_);
  std::erase_if(runners_, [&](const auto& kv) { return kv.second.value.id == runner_id; });
}

void AuthCache::clear() {
  std::lock_guard lock(mu_);
  tokens_.clear();
  runners_.clear();
}

}  // namespace corral

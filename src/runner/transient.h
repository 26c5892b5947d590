// Is a failure worth retrying? A failure is `transient` when the job's last output or the
// engine's error mentions one of the patterns (the runner's RUNNER_TRANSIENT_PATTERNS plus
// the job's retry.transient_patterns): an overloaded API (529), a rate limit, a flaky
// gateway (502/503), a reset connection. Matching is case-insensitive and a pattern must
// stand as a word of its own ("502" matches "HTTP 502:" but not "line 15020").
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace corral {

const std::vector<std::string>& default_transient_patterns();

bool matches_transient_pattern(std::string_view text, const std::vector<std::string>& patterns);

// Keeps the last `capacity` bytes of a stream (the output tail that classification reads).
class TailBuffer {
 public:
  explicit TailBuffer(size_t capacity) : capacity_(capacity) {}
  void append(std::string_view data);
  std::string_view text() const {
    std::string_view all(text_);
    return all.size() > capacity_ ? all.substr(all.size() - capacity_) : all;
  }

 private:
  size_t capacity_;
  std::string text_;  // up to twice the capacity: trimmed in bulk, not on every append
};

}  // namespace corral

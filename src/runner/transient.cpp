#include "runner/transient.h"

#include <algorithm>
#include <cctype>

namespace corral {

namespace {

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

}  // namespace

const std::vector<std::string>& default_transient_patterns() {
  static const std::vector<std::string> kPatterns = {
      "529", "overloaded", "rate limit", "rate limited", "too many requests",
      "502", "503",        "ETIMEDOUT",  "ECONNRESET",   "ECONNREFUSED"};
  return kPatterns;
}

bool matches_transient_pattern(std::string_view text, const std::vector<std::string>& patterns) {
  for (const auto& pattern : patterns) {
    if (pattern.empty() || pattern.size() > text.size()) continue;
    auto it = text.begin();
    for (;;) {
      it = std::search(it, text.end(), pattern.begin(), pattern.end(),
                       [](char a, char b) { return lower(a) == lower(b); });
      if (it == text.end()) break;
      size_t at = static_cast<size_t>(it - text.begin());
      bool starts_word = at == 0 || !word_char(text[at - 1]) || !word_char(pattern.front());
      size_t end = at + pattern.size();
      bool ends_word = end == text.size() || !word_char(text[end]) || !word_char(pattern.back());
      if (starts_word && ends_word) return true;
      ++it;
    }
  }
  return false;
}

void TailBuffer::append(std::string_view data) {
  if (data.size() >= capacity_) {
    text_.assign(data.substr(data.size() - capacity_));
    return;
  }
  // A container's output comes in frames of a few KiB: moving the kept tail for each one was
  // most of the runner's copying on a fast log. Trim once twice the capacity is held.
  if (text_.size() + data.size() > 2 * capacity_) {
    text_.erase(0, text_.size() + data.size() - capacity_);
  }
  text_.append(data);
}

}  // namespace corral

#include "common/redact.h"

#include <algorithm>
#include <utility>

namespace corral {

namespace {

// Where a URL's userinfo lies: [begin, end) before the '@', or npos when there is none.
std::pair<size_t, size_t> userinfo_span(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {std::string_view::npos, 0};
  size_t begin = scheme + 3;
  size_t authority_end = url.find_first_of("/?#", begin);
  std::string_view authority =
      url.substr(begin, authority_end == std::string_view::npos ? url.npos : authority_end - begin);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return {std::string_view::npos, 0};
  return {begin, begin + at};
}

}  // namespace

std::string without_userinfo(std::string_view url) {
  auto [begin, end] = userinfo_span(url);
  if (begin == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, begin)) + std::string(kMask) + std::string(url.substr(end));
}

std::string url_credential(std::string_view url) {
  auto [begin, end] = userinfo_span(url);
  if (begin == std::string_view::npos) return "";
  std::string_view info = url.substr(begin, end - begin);
  size_t colon = info.find(':');
  return std::string(colon == std::string_view::npos ? info : info.substr(colon + 1));
}

SecretMasker::SecretMasker(const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) add(s);
}

void SecretMasker::add(std::string_view secret) {
  auto insert = [&](std::string_view value) {
    if (value.empty()) return;
    if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
    values_.emplace_back(value);
  };
  insert(secret);
  if (secret.find('\n') != std::string_view::npos) {
    size_t start = 0;
    while (start <= secret.size()) {
      size_t nl = secret.find('\n', start);
      std::string_view line =
          secret.substr(start, nl == std::string_view::npos ? secret.npos : nl - start);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      if (line.size() >= 4) insert(line);
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }
  std::sort(values_.begin(), values_.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string SecretMasker::push(std::string_view chunk) {
  if (values_.empty()) return std::string(chunk);
  pending_.append(chunk);
  return drain(false);
}

std::string SecretMasker::finish() {
  if (values_.empty()) return std::exchange(pending_, {});
  return drain(true);
}

std::string SecretMasker::mask(std::string_view text) const {
  SecretMasker copy = *this;
  copy.pending_.clear();
  std::string out = copy.push(text);
  return out + copy.finish();
}

std::string SecretMasker::drain(bool final) {
  std::string out;
  out.reserve(pending_.size());
  size_t i = 0;
  const size_t n = pending_.size();
  while (i < n) {
    const std::string* hit = nullptr;
    bool partial = false;
    for (const auto& v : values_) {  // longest first: the longest match at i wins
      size_t avail = n - i;
      if (avail >= v.size()) {
        if (pending_.compare(i, v.size(), v) == 0) {
          hit = &v;
          break;
        }
      } else if (!final && pending_.compare(i, avail, v, 0, avail) == 0) {
        partial = true;  // the next chunk may complete this (longer) value: wait for it
        break;
      }
    }
    if (partial) break;
    if (hit) {
      out += kMask;
      i += hit->size();
    } else {
      out += pending_[i++];
    }
  }
  pending_.erase(0, i);
  return out;
}

}  // namespace corral

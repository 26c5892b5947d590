// Keeping secrets out of what people read: URLs shown without their credentials, and a log
// masker that replaces secret values with *** in a byte stream cut into arbitrary chunks.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace corral {

// "https://user:pass@host/x.git" -> "https://***@host/x.git"; anything else unchanged.
std::string without_userinfo(std::string_view url);

// The password (or the user, when there is no password) of a URL's userinfo, "" if none:
// a value to mask.
std::string url_credential(std::string_view url);

inline constexpr std::string_view kMask = "***";

// Replaces every occurrence of the registered values in a stream with kMask.
//
// A value may be split across two chunks: push() holds back the tail of a chunk that could
// be the start of a value until the next chunk or finish() decides.
// A value of several lines is masked whole, and each of its lines of 4 or more characters
// is masked on its own too (a program may print them apart or re-indent them). Where two
// values overlap, the earliest and then the longest match wins.
class SecretMasker {
 public:
  SecretMasker() = default;
  explicit SecretMasker(const std::vector<std::string>& secrets);

  void add(std::string_view secret);
  bool empty() const { return values_.empty(); }

  // Masks what can be decided now; returns the bytes safe to emit.
  std::string push(std::string_view chunk);
  // The held-back bytes, masked: the end of the stream.
  std::string finish();
  // A whole text at once (not a stream).
  std::string mask(std::string_view text) const;

 private:
  // Masks pending_ and returns it, keeping back (unless final) the tail from the first
  // place a value could begin but the bytes so far do not finish.
  std::string drain(bool final);

  std::vector<std::string> values_;  // longest first
  std::string pending_;
};

}  // namespace corral

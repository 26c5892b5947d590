// Secrets: random tokens, SHA-256 hashes (the only form a secret is stored in), and
// constant-time comparison.
#pragma once

#include <string>
#include <string_view>

namespace corral {

// n random bytes from OpenSSL's CSPRNG, hex-encoded (2n characters).
std::string random_hex(size_t n_bytes);
// A new id such as "job_3f9a1c0b7d2e4a61" (prefix + 16 hex characters).
std::string new_id(std::string_view prefix);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of data under key, lower-case hex (GitHub's X-Hub-Signature-256 after "sha256=").
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace corral

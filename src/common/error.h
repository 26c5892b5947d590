// Errors are values: one code enum, a message a user can act on, and the HTTP status
// each code maps to. Exceptions are only thrown and caught at the edges (main, HTTP).
#pragma once

#include <string>
#include <string_view>

namespace corral {

enum class ErrorCode {
  kBadRequest,           // 400 malformed input
  kUnauthorized,         // 401 missing or unknown token
  kForbidden,            // 403 token of the wrong kind
  kNotFound,             // 404
  kConflict,             // 409 e.g. stale attempt (fencing)
  kPayloadTooLarge,      // 413
  kRangeNotSatisfiable,  // 416 log gap
  kTooManyRequests,      // 429 a limit or quota (docs/security.md); with Retry-After
  kInvalidSpec,          // 422 valid JSON, invalid content
  kUnavailable,          // 503 store or engine down
  kTimeout,              // 504 / client-side timeout
  kInternal,             // 500
  // runner/runtime side
  kEngine,  // container engine refused or failed
  kImagePull,
  kClone,
  kIo,
};

int http_status(ErrorCode code);
std::string_view code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Extra JSON-encoded detail (e.g. {"next_offset":12} for 416); empty when none.
  std::string detail_json;

  int status() const { return http_status(code); }
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), {}};
}

// 429: a limit was reached. The answer carries `Retry-After: retry_after_s` and the same
// number as {"retry_after_s": N}.
inline Error too_many_requests(std::string message, int retry_after_s) {
  return Error{ErrorCode::kTooManyRequests, std::move(message),
               "{\"retry_after_s\":" + std::to_string(retry_after_s) + "}"};
}

}  // namespace corral

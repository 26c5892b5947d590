#include "common/error.h"

namespace corral {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kRangeNotSatisfiable:
      return 416;
    case ErrorCode::kTooManyRequests:
      return 429;
    case ErrorCode::kInvalidSpec:
      return 422;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kEngine:
    case ErrorCode::kImagePull:
    case ErrorCode::kClone:
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kPayloadTooLarge:
      return "payload_too_large";
    case ErrorCode::kRangeNotSatisfiable:
      return "range_not_satisfiable";
    case ErrorCode::kTooManyRequests:
      return "too_many_requests";
    case ErrorCode::kInvalidSpec:
      return "invalid_spec";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kEngine:
      return "engine";
    case ErrorCode::kImagePull:
      return "image_pull";
    case ErrorCode::kClone:
      return "clone";
    case ErrorCode::kIo:
      return "io";
  }
  return "internal";
}

}  // namespace corral

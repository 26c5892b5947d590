// Result<T>: a value or an Error. A small stand-in for std::expected (C++23).
#pragma once

#include <cassert>
#include <optional>
#include <utility>
#include <variant>

#include "common/error.h"

namespace corral {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result() : v_(Error{ErrorCode::kInternal, "uninitialised result", {}}) {}
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

inline Result<void> ok_result() {
  return {};
}

}  // namespace corral

// Propagate an error from an expression returning Result<...>.
#define CORRAL_TRY(expr)                                   \
  do {                                                     \
    auto&& corral_try_r_ = (expr);                         \
    if (!corral_try_r_.ok()) return corral_try_r_.error(); \
  } while (0)

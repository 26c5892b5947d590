// Numbers read from text (flags, environment, URLs, labels) without exceptions: the whole text
// must be the number, in the C locale, with no spaces and no '+'.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace corral {

// "8080" -> 8080; "", "80x", " 80", "99999999999" (for an int) -> nullopt.
template <typename T>
std::optional<T> parse_number(std::string_view text, int base = 10) requires std::is_integral_v<T> {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "1.5" -> 1.5; "1.5x", "" -> nullopt.
template <typename T>
std::optional<T> parse_number(std::string_view text) requires std::is_floating_point_v<T> {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace corral

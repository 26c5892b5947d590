#include "common/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace corral {

Result<int64_t> parse_bytes(std::string_view text) {
  std::string s;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(c));
  }
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidSpec,
                      "'" + std::string(text) +
                          "' is not a size; use bytes or a number with k, m or g (e.g. 512m)");
  };
  if (s.empty()) return bad();
  double number = 0;
  auto [number_end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec != std::errc()) return bad();
  std::string unit = s.substr(static_cast<size_t>(number_end - s.data()));
  if (unit.ends_with("ib"))
    unit.resize(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("b"))
    unit.resize(unit.size() - 1);
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k")
    mult = 1024.0;
  else if (unit == "m")
    mult = 1024.0 * 1024;
  else if (unit == "g")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "t")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return bad();
  if (!(number >= 0) || std::isinf(number)) return bad();
  return static_cast<int64_t>(std::llround(number * mult));
}

}  // namespace corral

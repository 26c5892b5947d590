// Parsing of human-written sizes ("512m", "1.5g") and durations.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace corral {

// Bytes from "1048576", "512k", "512m", "2g" (binary units, case-insensitive, optional "b"/"ib").
Result<int64_t> parse_bytes(std::string_view text);

}  // namespace corral

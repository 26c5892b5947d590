// How log lines look: spdlog's text lines by default, or JSON lines (--log-json) for a log
// collector.
#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace corral {

// One JSON object per line, {"time":"2026-12-01T15:04:05.123Z","level":"info","msg":"..."}:
// the time in UTC, the message a JSON string (quotes, backslashes, newlines and other control
// characters escaped; bytes that are not UTF-8 replaced by U+FFFD), so that every line parses.
std::unique_ptr<spdlog::formatter> json_lines_formatter();

}  // namespace corral

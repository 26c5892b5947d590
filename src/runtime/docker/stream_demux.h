// Demultiplexes Docker's attach/exec stream for containers without a TTY. Each frame is
//
//   +------+---+---+---+-------------------+------------------+
//   | kind | 0 | 0 | 0 | size (uint32, BE) | size bytes       |
//   +------+---+---+---+-------------------+------------------+
//
// kind: 0 stdin, 1 stdout, 2 stderr, 3 the engine's own error text. Frames arrive split
// across reads at arbitrary points; the demuxer hands on payload bytes as soon as they
// arrive (a frame's payload may come in several pieces), so output streams live.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/result.h"

namespace corral {

enum class StreamKind : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kSystem = 3 };

class StreamDemuxer {
 public:
  using Handler = std::function<void(StreamKind, std::string_view)>;

  // Consumes bytes, calling handler for every payload piece they complete or continue.
  // A malformed header (unknown kind, non-zero padding) is an error: the stream is not
  // multiplexed, and the demuxer must not be fed again.
  Result<void> feed(std::string_view bytes, const Handler& handler);

  // True when the bytes fed so far end exactly at a frame boundary.
  bool at_frame_boundary() const { return header_len_ == 0 && payload_left_ == 0; }

 private:
  std::array<unsigned char, 8> header_{};
  size_t header_len_ = 0;
  uint32_t payload_left_ = 0;
  StreamKind kind_ = StreamKind::kStdout;
};

}  // namespace corral

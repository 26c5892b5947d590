// Fuzz target: Docker's multiplexed attach stream, cut into pieces of a size the first byte
// picks. The bytes handed on for each stream must be the same however the stream is cut.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/docker/stream_demux.h"

namespace {

bool demux_in_pieces(std::string_view stream, size_t piece, std::array<std::string, 4>& out) {
  corral::StreamDemuxer demux;
  for (size_t i = 0; i < stream.size(); i += piece) {
    auto fed =
        demux.feed(stream.substr(i, piece), [&](corral::StreamKind kind, std::string_view bytes) {
          out.at(static_cast<size_t>(kind)).append(bytes);
        });
    if (!fed.ok()) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t piece = 1 + data[0] % 17;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  std::array<std::string, 4> whole, cut;
  bool ok_whole = demux_in_pieces(stream, stream.size() + 1, whole);
  bool ok_cut = demux_in_pieces(stream, piece, cut);
  if (ok_whole != ok_cut) __builtin_trap();  // a malformed header is malformed however it arrives
  if (ok_whole && whole != cut) __builtin_trap();
  return 0;
}

// StreamDemuxer: Docker's 8-byte-header multiplexed stream, fed in arbitrary pieces.
#include "runtime/docker/stream_demux.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/test_values.h"

namespace corral {
namespace {

struct Collected {
  std::string merged;
  std::string out;
  std::string err;
  std::string system;
  int calls = 0;
};

StreamDemuxer::Handler collect_into(Collected& c) {
  return [&c](StreamKind kind, std::string_view data) {
    ++c.calls;
    c.merged.append(data);
    if (kind == StreamKind::kStdout) c.out.append(data);
    if (kind == StreamKind::kStderr) c.err.append(data);
    if (kind == StreamKind::kSystem) c.system.append(data);
  };
}

TEST(StreamDemuxTest, WholeFramesInOneRead) {
  StreamDemuxer demux;
  Collected c;
  auto bytes = docker_frame(1, "out1\n") + docker_frame(2, "err1\n") + docker_frame(1, "out2\n");
  ASSERT_TRUE(demux.feed(bytes, collect_into(c)).ok());
  EXPECT_EQ(c.merged, "out1\nerr1\nout2\n");
  EXPECT_EQ(c.out, "out1\nout2\n");
  EXPECT_EQ(c.err, "err1\n");
  EXPECT_TRUE(demux.at_frame_boundary());
}

TEST(StreamDemuxTest, EverySplitPointGivesTheSameOutput) {
  auto bytes = docker_frame(1, "hello ") + docker_frame(2, "warning\n") +
               docker_frame(1, "world\n") + docker_frame(1, "");
  for (size_t cut1 = 0; cut1 <= bytes.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= bytes.size(); ++cut2) {
      StreamDemuxer demux;
      Collected c;
      auto handler = collect_into(c);
      ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(0, cut1), handler).ok());
      ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(cut1, cut2 - cut1), handler).ok());
      ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(cut2), handler).ok());
      ASSERT_EQ(c.merged, "hello warning\nworld\n") << "cuts " << cut1 << "," << cut2;
      ASSERT_EQ(c.err, "warning\n");
      ASSERT_TRUE(demux.at_frame_boundary());
    }
  }
}

TEST(StreamDemuxTest, ByteAtATime) {
  auto bytes = docker_frame(1, "abc") + docker_frame(2, "de") + docker_frame(3, "engine says no");
  StreamDemuxer demux;
  Collected c;
  auto handler = collect_into(c);
  for (char b : bytes) ASSERT_TRUE(demux.feed(std::string_view(&b, 1), handler).ok());
  EXPECT_EQ(c.out, "abc");
  EXPECT_EQ(c.err, "de");
  EXPECT_EQ(c.system, "engine says no");
}

TEST(StreamDemuxTest, PartialPayloadIsDeliveredBeforeTheFrameCompletes) {
  auto bytes = docker_frame(1, "0123456789");
  StreamDemuxer demux;
  Collected c;
  auto handler = collect_into(c);
  ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(0, 8 + 4), handler).ok());
  EXPECT_EQ(c.out, "0123");  // streamed as it came, not held back for the rest
  EXPECT_FALSE(demux.at_frame_boundary());
  ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(12), handler).ok());
  EXPECT_EQ(c.out, "0123456789");
  EXPECT_TRUE(demux.at_frame_boundary());
}

TEST(StreamDemuxTest, LargeFrameSizeUsesAllFourBytes) {
  std::string payload(70'000, 'x');  // > 65535: the size's third byte matters
  auto bytes = docker_frame(1, payload);
  StreamDemuxer demux;
  Collected c;
  ASSERT_TRUE(demux.feed(bytes, collect_into(c)).ok());
  EXPECT_EQ(c.out.size(), payload.size());
  EXPECT_TRUE(demux.at_frame_boundary());
}

TEST(StreamDemuxTest, RawTtyOutputIsRejected) {
  StreamDemuxer demux;
  Collected c;
  auto fed = demux.feed("hello world, no frames here\n", collect_into(c));
  ASSERT_FALSE(fed.ok());
  EXPECT_EQ(fed.error().code, ErrorCode::kEngine);
  EXPECT_TRUE(c.merged.empty());
}

TEST(StreamDemuxTest, TruncatedStreamIsNotAtABoundary) {
  auto bytes = docker_frame(1, "abcdef");
  StreamDemuxer demux;
  Collected c;
  ASSERT_TRUE(demux.feed(std::string_view(bytes).substr(0, 5), collect_into(c)).ok());
  EXPECT_FALSE(demux.at_frame_boundary());
  EXPECT_TRUE(c.merged.empty());
}

}  // namespace
}  // namespace corral

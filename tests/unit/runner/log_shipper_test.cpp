// LogShipper against a real HTTP listener (net/http_server.h) on loopback that keeps what it
// is sent at the offsets the shipper names: chunk sizes under a backlog, and a server whose
// body limit is lower than the shipper's chunk.
#include "runner/log_shipper.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../runtime/coro_test_util.h"
#include "common/result.h"
#include "net/http_server.h"
#include "net/router.h"

namespace corral::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The server's half of POST /api/v1/jobs/{id}/attempts/{n}/logs?offset=N.
class LogSink {
 public:
  explicit LogSink(asio::io_context& io, size_t body_limit) {
    router_.add(http::verb::post, "/api/v1/jobs/{id}/attempts/{attempt}/logs",
                [this](RequestContext& req) -> awaitable<Response> { co_return receive(req); });
    HttpServerOptions options;
    options.body_limit = body_limit;
    server_ = std::make_unique<HttpServer>(io, router_, options);
    auto bound = server_->listen("127.0.0.1", 0);
    EXPECT_TRUE(bound.ok());
    if (bound.ok()) endpoint_.port = bound->port();
    endpoint_.host = "127.0.0.1";
  }

  const Endpoint& endpoint() const { return endpoint_; }
  const std::string& received() const { return received_; }
  const std::vector<size_t>& chunks() const { return chunks_; }
  void stop() { server_->stop(); }

 private:
  Response receive(RequestContext& req) {
    int64_t offset = std::stoll(req.query_value("offset"));
    if (offset > static_cast<int64_t>(received_.size())) {
      return json_response(http::status::range_not_satisfiable,
                           json{{"next_offset", received_.size()}}.dump());
    }
    const std::string& body = req.msg.body();
    chunks_.push_back(body.size());
    size_t overlap = received_.size() - static_cast<size_t>(offset);
    if (overlap < body.size()) received_.append(body, overlap);
    return json_response(http::status::ok, json{{"next_offset", received_.size()}}.dump());
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  Endpoint endpoint_;
  std::string received_;
  std::vector<size_t> chunks_;
};

std::string pattern_bytes(size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; out.size() < n; ++i) out += "line " + std::to_string(i) + "\n";
  out.resize(n);
  return out;
}

class LogShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("corral-shipper-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Spools `data` at once (a job that wrote faster than any upload), closes, and ships it.
  std::unique_ptr<LogShipper> ship_all(LogSink& sink, const std::string& data) {
    client_ = std::make_unique<HttpClient>(io_.get_executor(), sink.endpoint());
    auto shipper = std::make_unique<LogShipper>(*client_, "job-1", 1, dir_ / "spool",
                                                std::chrono::seconds(10));
    EXPECT_TRUE(shipper->open().ok());
    shipper->append(data);
    shipper->close();
    bool done = false;
    asio::co_spawn(io_, shipper->run(), [&](std::exception_ptr) { done = true; });
    EXPECT_TRUE(run_until(
        io_, [&] { return done; }, std::chrono::seconds(30)));
    return shipper;
  }

  asio::io_context io_;
  std::unique_ptr<HttpClient> client_;
  fs::path dir_;
};

TEST_F(LogShipperTest, ABacklogGoesInChunksOfUpToOneMebibyte) {
  LogSink sink(io_, kMaxLogChunkBytes);
  std::string data = pattern_bytes(3 * kMaxLogChunkBytes + 1000);
  auto shipper = ship_all(sink, data);
  EXPECT_EQ(shipper->acknowledged(), static_cast<int64_t>(data.size()));
  EXPECT_TRUE(sink.received() == data) << "the server's copy differs from what was spooled";
  // Four requests, not one per 64 KiB (52).
  EXPECT_EQ(sink.chunks().size(), 4u);
  for (size_t n : sink.chunks()) EXPECT_LE(n, kMaxLogChunkBytes);
  sink.stop();
}

TEST_F(LogShipperTest, AServerWithALowerBodyLimitGetsSmallerChunksAndEveryByte) {
  constexpr size_t kLimit = 300 * 1024;  // 1 MiB and 512 KiB are refused (413), 256 KiB fits
  LogSink sink(io_, kLimit);
  std::string data = pattern_bytes(2 * kMaxLogChunkBytes);
  auto shipper = ship_all(sink, data);
  EXPECT_TRUE(sink.received() == data) << "the server's copy differs from what was spooled";
  EXPECT_EQ(shipper->chunk_limit(), 256u * 1024);
  for (size_t n : sink.chunks()) EXPECT_LE(n, kLimit);
  EXPECT_EQ(sink.chunks().size(), 8u);
  sink.stop();
}

}  // namespace
}  // namespace corral::testing

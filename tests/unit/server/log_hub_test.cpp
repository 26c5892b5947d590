#include "server/log_hub.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

using namespace std::chrono_literals;

class LogHubTest : public ::testing::Test {
 protected:
  asio::io_context io_;
  LogHub hub_{1000};  // a watcher more than 1000 bytes behind is lagged
};

TEST_F(LogHubTest, EveryWatcherOfAJobGetsEachPieceInOrder) {
  auto a = hub_.subscribe("j1", io_.get_executor());
  auto b = hub_.subscribe("j1", io_.get_executor());
  auto other = hub_.subscribe("j2", io_.get_executor());
  hub_.publish_bytes("j1", 1, 0, "abc");
  hub_.publish_bytes("j1", 1, 3, "de");
  for (const auto& sub : {a, b}) {
    auto batch = sub->take();
    ASSERT_EQ(batch.pieces.size(), 2u);
    EXPECT_EQ(*batch.pieces[0].data, "abc");
    EXPECT_EQ(batch.pieces[1].offset, 3);
    EXPECT_EQ(*batch.pieces[1].data, "de");
    EXPECT_FALSE(batch.lagged);
    EXPECT_TRUE(sub->take().pieces.empty());
  }
  EXPECT_TRUE(other->take().pieces.empty());
  // Each piece is copied once and shared.
  hub_.publish_bytes("j1", 1, 5, "f");
  EXPECT_EQ(a->take().pieces[0].data.get(), b->take().pieces[0].data.get());
  EXPECT_EQ(hub_.watchers(), 3u);
  hub_.unsubscribe("j1", a);
  EXPECT_EQ(hub_.watchers(), 2u);
}

TEST_F(LogHubTest, AWatcherTooFarBehindIsLaggedAndItsQueueDropped) {
  auto slow = hub_.subscribe("j1", io_.get_executor());
  std::string block(400, 'x');
  hub_.publish_bytes("j1", 1, 0, block);
  hub_.publish_bytes("j1", 1, 400, block);
  hub_.publish_bytes("j1", 1, 800, block);   // 1200 > 1000: lagged
  hub_.publish_bytes("j1", 1, 1200, block);  // dropped while lagged
  auto batch = slow->take();
  EXPECT_TRUE(batch.lagged);
  EXPECT_TRUE(batch.pieces.empty());
  hub_.publish_bytes("j1", 1, 1600, "y");  // queued again after take()
  batch = slow->take();
  EXPECT_FALSE(batch.lagged);
  ASSERT_EQ(batch.pieces.size(), 1u);
  EXPECT_EQ(batch.pieces[0].offset, 1600);
}

TEST_F(LogHubTest, APublishWakesAWaitingWatcherAndChangesAreFlagged) {
  auto sub = hub_.subscribe("j1", io_.get_executor());
  bool woken = false;
  asio::co_spawn(
      io_, [&]() -> awaitable<void> { woken = co_await sub->wait(60s); }, asio::detached);
  io_.poll();
  EXPECT_FALSE(woken);
  hub_.publish_changed("j1");
  io_.run_for(5s);
  EXPECT_TRUE(woken);
  auto batch = sub->take();
  EXPECT_TRUE(batch.changed);
  EXPECT_TRUE(batch.pieces.empty());
  // A wake that comes before the wait is not lost: wait returns at once.
  hub_.publish_changed_all();
  io_.restart();
  woken = false;
  asio::co_spawn(
      io_, [&]() -> awaitable<void> { woken = co_await sub->wait(60s); }, asio::detached);
  io_.run_for(5s);
  EXPECT_TRUE(woken);
  // Nothing to say: the wait times out and says so.
  sub->take();
  io_.restart();
  bool timed_out = false;
  asio::co_spawn(
      io_, [&]() -> awaitable<void> { timed_out = !co_await sub->wait(1ms); }, asio::detached);
  io_.run_for(5s);
  EXPECT_TRUE(timed_out);
}

}  // namespace
}  // namespace corral

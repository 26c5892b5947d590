// PgPeers against a real PostgreSQL (CORRAL_TEST_PG, started by scripts/pg-service.sh).
#include "server/pg_peers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common/pg_test_db.h"
#include "store/postgres/pg.h"

namespace corral {
namespace {

using namespace std::chrono_literals;

// What one PgPeers heard, with a way to wait for it.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> messages;
  int reconnects = 0;

  Peers::Handler handler() {
    return [this](std::string_view m) {
      std::lock_guard lock(mu);
      messages.emplace_back(m);
      cv.notify_all();
    };
  }
  std::function<void()> on_reconnect() {
    return [this] {
      std::lock_guard lock(mu);
      ++reconnects;
      cv.notify_all();
    };
  }
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, deadline, pred);
  }
  bool has(const std::string& m) {
    return std::find(messages.begin(), messages.end(), m) != messages.end();
  }
};

class PgPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!db_.configured()) GTEST_SKIP() << testing::kPgSkipMessage;
    ASSERT_FALSE(db_.url().empty()) << db_.error();
    url_ = db_.url();
  }

  // Runs one statement on a connection of the test's own.
  void exec(const std::string& sql) {
    auto conn = pg::Connection::open(url_);
    ASSERT_TRUE(conn.ok()) << conn.error().message;
    (*conn)->exec_script(sql);
  }

  testing::PgTestDatabase db_;
  std::string url_;
};

// Polls (5 ms steps) until every peer's LISTEN connection is up.
bool wait_connected(std::initializer_list<const PgPeers*> peers) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    if (std::all_of(peers.begin(), peers.end(), [](const PgPeers* p) { return p->connected(); }))
      return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

TEST_F(PgPeersTest, AMessageReachesTheOtherServersAndNotTheSender) {
  Inbox a_in, b_in, c_in;
  PgPeers a(url_), b(url_), c(url_);
  a.start(a_in.handler(), a_in.on_reconnect());
  b.start(b_in.handler(), b_in.on_reconnect());
  c.start(c_in.handler(), c_in.on_reconnect());
  ASSERT_NE(a.server_id(), b.server_id());
  // LISTEN must be in place before the send, or the message is (rightly) not delivered.
  ASSERT_TRUE(wait_connected({&a, &b, &c})) << "peers never connected";
  a.send("j default job_1");
  a.send("c job_1");
  EXPECT_TRUE(b_in.wait_for([&] { return b_in.messages.size() >= 2; }));
  EXPECT_TRUE(c_in.wait_for([&] { return c_in.messages.size() >= 2; }));
  EXPECT_EQ(b_in.messages, (std::vector<std::string>{"j default job_1", "c job_1"}));
  EXPECT_EQ(c_in.messages, b_in.messages);
  // b answers; a hears it, and a never heard its own messages.
  b.send("a");
  EXPECT_TRUE(a_in.wait_for([&] { return a_in.has("a"); }));
  std::lock_guard lock(a_in.mu);
  EXPECT_EQ(a_in.messages, (std::vector<std::string>{"a"}));
}

TEST_F(PgPeersTest, QuotesAndBackslashesSurviveTheBatch) {
  Inbox b_in;
  PgPeers a(url_), b(url_);
  a.start([](std::string_view) {}, [] {});
  b.start(b_in.handler(), b_in.on_reconnect());
  ASSERT_TRUE(wait_connected({&a, &b}));
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) sent.push_back("c job \"" + std::to_string(i) + "\\x,{}");
  for (const auto& m : sent) a.send(m);
  EXPECT_TRUE(b_in.wait_for([&] { return b_in.messages.size() >= sent.size(); }));
  std::lock_guard lock(b_in.mu);
  EXPECT_EQ(b_in.messages, sent);
}

TEST_F(PgPeersTest, ReconnectsAfterItsConnectionIsKilledAndSaysSo) {
  Inbox a_in, b_in;
  PgPeers a(url_), b(url_);
  a.start(a_in.handler(), a_in.on_reconnect());
  b.start(b_in.handler(), b_in.on_reconnect());
  ASSERT_TRUE(wait_connected({&a, &b}));
  // What a database restart does to every connection.
  exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'corral-peers' AND datname = current_database()");
  EXPECT_TRUE(b_in.wait_for([&] { return b_in.reconnects >= 1; }))
      << "b did not notice and reconnect";
  EXPECT_TRUE(a_in.wait_for([&] { return a_in.reconnects >= 1; }))
      << "a did not notice and reconnect";
  ASSERT_TRUE(wait_connected({&a, &b}));
  a.send("c after_restart");
  EXPECT_TRUE(b_in.wait_for([&] { return b_in.has("c after_restart"); }));
}

}  // namespace
}  // namespace corral

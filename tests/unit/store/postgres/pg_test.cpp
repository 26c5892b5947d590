// The libpq layer against a real PostgreSQL (CORRAL_TEST_PG; skipped without it).
#include "store/postgres/pg.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

#include "common/pg_test_db.h"

namespace corral::pg {
namespace {

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!db_.configured()) GTEST_SKIP() << testing::kPgSkipMessage;
    ASSERT_FALSE(db_.url().empty()) << db_.error();
  }
  Pool make_pool(int max_connections,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
    return Pool(PoolOptions{db_.url(), max_connections, timeout});
  }
  testing::PgTestDatabase db_;
};

TEST_F(PgTest, ParamsAndTypedGetters) {
  auto conn = Connection::open(db_.url());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto& c = **conn;
  c.exec_script("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, n INTEGER, data BYTEA)");
  std::string binary("a\0b\xff\x01z", 6);
  auto ins = c.query("INSERT INTO t VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)", int64_t{1},
                     std::string("one"), std::optional<int>(), Bytes{binary}, 2, "two",
                     std::optional<int>(7), Bytes{""});
  EXPECT_EQ(ins.affected(), 2);
  auto rows = c.query("SELECT id, name, n, data FROM t ORDER BY id");
  ASSERT_EQ(rows.size(), 2);
  EXPECT_EQ(rows[0].int64(0), 1);
  EXPECT_EQ(rows[0].text(1), "one");
  EXPECT_TRUE(rows[0].is_null(2));
  EXPECT_EQ(rows[0].opt_int(2), std::nullopt);
  EXPECT_EQ(rows[0].bytea(3), binary);
  EXPECT_EQ(rows[1].opt_int(2), 7);
  EXPECT_EQ(rows[1].bytea(3), "");
  // The same statement again comes from the prepared cache.
  EXPECT_EQ(c.query("SELECT id, name, n, data FROM t ORDER BY id").size(), 2);
}

TEST_F(PgTest, ConstraintViolationIsAConflict) {
  auto pool = make_pool(2);
  auto made = pool.transaction<bool>([](Connection& c) -> Result<bool> {
    c.exec_script("CREATE TABLE u (k TEXT PRIMARY KEY)");
    c.query("INSERT INTO u VALUES ($1)", "a");
    return true;
  });
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto again = pool.transaction<bool>([](Connection& c) -> Result<bool> {
    c.query("INSERT INTO u VALUES ($1)", "a");
    return true;
  });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  // The failed transaction rolled back and the connection is usable again.
  auto count = pool.transaction<int64_t>([](Connection& c) -> Result<int64_t> {
    return c.query("SELECT COUNT(*) FROM u").front().int64(0);
  });
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count, 1);
}

TEST_F(PgTest, ErrorReturnedByTheClosureRollsBack) {
  auto pool = make_pool(1);
  ASSERT_TRUE(pool.transaction<bool>([](Connection& c) -> Result<bool> {
                    c.exec_script("CREATE TABLE v (k TEXT)");
                    return true;
                  })
                  .ok());
  auto failed = pool.transaction<bool>([](Connection& c) -> Result<bool> {
    c.query("INSERT INTO v VALUES ($1)", "x");
    return make_error(ErrorCode::kNotFound, "nope");
  });
  EXPECT_EQ(failed.error().code, ErrorCode::kNotFound);
  auto count = pool.transaction<int64_t>([](Connection& c) -> Result<int64_t> {
    return c.query("SELECT COUNT(*) FROM v").front().int64(0);
  });
  EXPECT_EQ(*count, 0);
}

TEST_F(PgTest, UnreachableServerIsUnavailableAndNamesTheHostNotThePassword) {
  // Port 1 on loopback: nothing listens there.
  auto conn = Connection::open("postgresql://corral:s3cret@127.0.0.1:1/corral");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(http_status(conn.error().code), 503);
  EXPECT_NE(conn.error().message.find("127.0.0.1:1/corral"), std::string::npos)
      << conn.error().message;
  EXPECT_EQ(conn.error().message.find("s3cret"), std::string::npos) << conn.error().message;
  Pool pool(PoolOptions{"postgresql://corral:s3cret@127.0.0.1:1/corral", 2});
  auto tx = pool.transaction<bool>([](Connection&) -> Result<bool> { return true; });
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(pool.open_connections(), 0);
}

TEST_F(PgTest, PoolIsBoundedAndAWaiterGivesUpAtItsDeadline) {
  auto pool = make_pool(2, std::chrono::milliseconds(200));
  auto a = pool.acquire();
  auto b = pool.acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(pool.open_connections(), 2);
  auto start = std::chrono::steady_clock::now();
  auto c = pool.acquire();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // A waiter gets the connection another caller returns.
  std::optional<Pool::Lease> held(std::move(a.value()));
  std::thread releaser([&] { held.reset(); });
  auto d = pool.acquire();
  releaser.join();
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(pool.open_connections(), 2);
}

TEST_F(PgTest, BrokenConnectionIsDiscardedAndReopened) {
  auto pool = make_pool(1);
  auto pid = pool.transaction<int64_t>([](Connection& c) -> Result<int64_t> {
    return c.query("SELECT pg_backend_pid()").front().int64(0);
  });
  ASSERT_TRUE(pid.ok());
  // Kill the pooled connection's backend from outside, as a database restart would.
  auto killer = Connection::open(db_.url());
  ASSERT_TRUE(killer.ok());
  (*killer)->query("SELECT pg_terminate_backend($1::int)", *pid);
  auto next = pool.transaction<int64_t>([](Connection& c) -> Result<int64_t> {
    return c.query("SELECT pg_backend_pid()").front().int64(0);
  });
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_NE(*next, *pid);
  EXPECT_EQ(pool.open_connections(), 1);
}

TEST_F(PgTest, ListenReceivesNotifications) {
  auto listener = Connection::open(db_.url());
  auto sender = Connection::open(db_.url());
  ASSERT_TRUE(listener.ok() && sender.ok());
  (*listener)->exec_script("LISTEN corral_test");
  (*sender)->query("SELECT pg_notify('corral_test', $1)", "hello");
  pollfd pfd{(*listener)->socket(), POLLIN, 0};
  std::optional<Notification> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!got && std::chrono::steady_clock::now() < deadline) {
    ASSERT_GE(::poll(&pfd, 1, 1000), 0);
    (*listener)->consume_input();
    got = (*listener)->next_notification();
  }
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->channel, "corral_test");
  EXPECT_EQ(got->payload, "hello");
}

}  // namespace
}  // namespace corral::pg

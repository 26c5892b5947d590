// Store selection from --store / CORRAL_STORE.
#include "store/open_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"

namespace corral {
namespace {

TEST(StoreLocation, EmptyOrSqliteIsTheDataDirsDatabase) {
  for (const std::string value : {"", "sqlite"}) {
    auto loc = parse_store_location(value, "/var/lib/corral");
    ASSERT_TRUE(loc.ok()) << value;
    EXPECT_EQ(loc->kind, StoreLocation::Kind::kSqlite);
    EXPECT_EQ(loc->target, "/var/lib/corral/corral.db");
  }
}

TEST(StoreLocation, SqliteUrlNamesAnAbsoluteFile) {
  auto loc = parse_store_location("sqlite:///srv/corral/queue.db", "/data");
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->kind, StoreLocation::Kind::kSqlite);
  EXPECT_EQ(loc->target, "/srv/corral/queue.db");
  auto relative = parse_store_location("sqlite://queue.db", "/data");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("absolute"), std::string::npos);
}

TEST(StoreLocation, PostgresUrlsInBothSpellings) {
  for (const std::string value :
       {"postgres://corral@db:5432/corral", "postgresql://corral@db/corral?sslmode=require"}) {
    auto loc = parse_store_location(value, "/data");
    ASSERT_TRUE(loc.ok()) << value;
    EXPECT_EQ(loc->kind, StoreLocation::Kind::kPostgres);
    EXPECT_EQ(loc->target, value);
  }
}

TEST(StoreLocation, AnythingElseListsTheAcceptedFormsWithoutEchoingASecret) {
  auto bad = parse_store_location("mysql://root:hunter2@db/corral", "/data");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(bad.error().message.find("sqlite:///abs/path.db"), std::string::npos);
  EXPECT_NE(bad.error().message.find("postgres://"), std::string::npos);
  EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos);
  auto typo = parse_store_location("sqlit", "/data");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.error().message.find("'sqlit'"), std::string::npos);
}

TEST(OpenStore, SqliteUrlOpensThatFile) {
  auto dir = std::filesystem::temp_directory_path() / ("corral-open-" + random_hex(6));
  OpenStoreOptions options;
  options.store = "sqlite://" + (dir / "sub" / "q.db").string();
  options.data_dir = (dir / "data").string();
  options.sqlite_synchronous_full = false;
  auto store = open_store(options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->list_tokens().ok());
  EXPECT_TRUE(std::filesystem::exists(dir / "sub" / "q.db"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "corral.db"));
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(OpenStore, UnreachablePostgresIsUnavailable) {
  OpenStoreOptions options;
  options.store = "postgres://corral:pw@127.0.0.1:1/corral";
  auto store = open_store(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message.find("127.0.0.1:1/corral"), std::string::npos);
}

}  // namespace
}  // namespace corral

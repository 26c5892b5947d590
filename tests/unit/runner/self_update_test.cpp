// The update's file steps on real files, with shell scripts standing in for the builds.
#include "runner/self_update.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <limits>
#include <sstream>

#include "common/crypto.h"

namespace corral {
namespace {

namespace fs = std::filesystem;

std::string script(const std::string& version) {
  return "#!/bin/sh\necho " + version + "\n";
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class SelfUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/corral-self-update-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
    binary_ = dir_ / "corral";
    std::ofstream(binary_) << script("1.0");
    fs::permissions(binary_, fs::perms::owner_all);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Stages and installs 2.0 with the deadline given.
  void install_two(TimeMs deadline_ms) {
    std::string bytes = script("2.0");
    auto staged = stage_update(binary_, bytes, sha256_hex(bytes), "2.0");
    ASSERT_TRUE(staged.ok()) << staged.error().message;
    ASSERT_TRUE(install_update(binary_, {"cmd_1", "1.0", "2.0", deadline_ms, 0}).ok());
    ASSERT_EQ(slurp(binary_), bytes);
    ASSERT_EQ(slurp(binary_.string() + ".previous"), script("1.0"));
  }

  fs::path dir_, binary_;
};

TEST_F(SelfUpdateTest, ABinaryWithAnotherShaOrVersionIsRefusedAndNothingIsReplaced) {
  std::string bytes = script("2.0");
  auto wrong_sha = stage_update(binary_, bytes, sha256_hex("something else"), "2.0");
  ASSERT_FALSE(wrong_sha.ok());
  EXPECT_NE(wrong_sha.error().message.find("sha256"), std::string::npos);
  auto wrong_version = stage_update(binary_, bytes, sha256_hex(bytes), "3.0");
  ASSERT_FALSE(wrong_version.ok());
  EXPECT_NE(wrong_version.error().message.find("'2.0', not '3.0'"), std::string::npos)
      << wrong_version.error().message;
  std::string failing = "#!/bin/sh\nexit 7\n";
  auto broken = stage_update(binary_, failing, sha256_hex(failing), "2.0");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("self-check"), std::string::npos);
  EXPECT_FALSE(fs::exists(binary_.string() + ".new"));
  EXPECT_EQ(slurp(binary_), script("1.0"));
}

TEST_F(SelfUpdateTest, TheNewBinaryIsOnProbationUntilConfirmed) {
  install_two(std::numeric_limits<TimeMs>::max());
  auto first = check_pending_update(binary_, 1000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->pending.has_value());
  EXPECT_FALSE(first->rollback.has_value());
  EXPECT_EQ(first->pending->command_id, "cmd_1");
  EXPECT_EQ(first->pending->starts, 1);
  confirm_update(binary_);
  auto later = check_pending_update(binary_, 2000);
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->pending.has_value());
  EXPECT_FALSE(later->rollback.has_value());
  EXPECT_EQ(slurp(binary_), script("2.0"));
}

TEST_F(SelfUpdateTest, ASecondStartWithoutConfirmingPutsThePreviousBinaryBack) {
  install_two(std::numeric_limits<TimeMs>::max());
  ASSERT_TRUE(check_pending_update(binary_, 1000)->pending.has_value());
  // It crashed before registering and was started again (by systemd, say).
  auto again = check_pending_update(binary_, 1500);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(again->rollback.has_value());
  EXPECT_EQ(slurp(binary_), script("1.0"));
  EXPECT_FALSE(fs::exists(binary_.string() + ".update"));
  EXPECT_EQ(again->rollback->binary, binary_);
  EXPECT_EQ(again->rollback->env.at(kRestartCommandEnv), "cmd_1");
  EXPECT_NE(again->rollback->env.at(kUpdateFailedEnv).find("stopped before it registered"),
            std::string::npos);
}

TEST_F(SelfUpdateTest, PastTheDeadlineThePreviousBinaryComesBack) {
  install_two(5000);
  auto late = check_pending_update(binary_, 6000);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(late->rollback.has_value());
  EXPECT_NE(
      late->rollback->env.at(kUpdateFailedEnv).find("did not register with the server in time"),
      std::string::npos);
  EXPECT_EQ(slurp(binary_), script("1.0"));
  // In-process, once the deadline passes while running.
  install_two(std::numeric_limits<TimeMs>::max());
  auto plan = roll_back_update(binary_, {"cmd_2", "1.0", "2.0", 0, 1}, "no answer");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(slurp(binary_), script("1.0"));
  EXPECT_EQ(plan->env.at(kUpdateFailedEnv), "rolled back to 1.0: no answer");
}

}  // namespace
}  // namespace corral

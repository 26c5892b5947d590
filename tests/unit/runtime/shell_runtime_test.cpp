// ShellRuntime against real host processes in a temporary workspace.
#include "runtime/shell/shell_runtime.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "coro_test_util.h"

namespace corral {
namespace {

using testing::run_coro;
using testing::run_until;
using namespace std::chrono_literals;

class ShellRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = std::filesystem::temp_directory_path() / ("corral-shell-" + random_hex(6));
    std::filesystem::create_directories(workspace_ / "sub");
    runtime_ = std::make_unique<ShellRuntime>(io_.get_executor());
  }
  void TearDown() override {
    runtime_.reset();
    std::filesystem::remove_all(workspace_);
  }

  ContainerSpec spec(std::string script) {
    ContainerSpec s;
    s.command = {"/bin/sh", "-c", std::move(script)};
    s.binds = {workspace_.string() + ":/workspace"};
    s.labels = {{"corral.runner", "runner_test"}, {"corral.job", "job_" + random_hex(4)}};
    return s;
  }

  std::string create(const ContainerSpec& s) {
    auto id = run_coro(io_, runtime_->create(s));
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? id.value() : std::string();
  }

  asio::io_context io_;
  std::filesystem::path workspace_;
  std::unique_ptr<ShellRuntime> runtime_;
};

TEST_F(ShellRuntimeTest, ExitCodeAndInterleavedOutput) {
  auto id = create(spec("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3"));
  std::string output;
  auto status = run_coro(io_, runtime_->run(id, [&](std::string_view s) { output.append(s); }));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->exit_code, 3);
  EXPECT_FALSE(status->oom_killed);
  EXPECT_EQ(output, "out1\nerr1\nout2\nerr2\n");
  // run() again reports the same exit without running it twice.
  auto again = run_coro(io_, runtime_->run(id, nullptr));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->exit_code, 3);
}

TEST_F(ShellRuntimeTest, WorkingDirectoryComesFromTheWorkspaceBindAndEnvIsSet) {
  auto s = spec("pwd; echo \"$CORRAL_TEST_VAR\"; touch made-here");
  s.working_dir = "/workspace/sub";
  s.env = {{"CORRAL_TEST_VAR", "hello from the spec"}};
  auto id = create(s);
  std::string output;
  auto status = run_coro(io_, runtime_->run(id, [&](std::string_view v) { output.append(v); }));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_EQ(output, (workspace_ / "sub").string() + "\nhello from the spec\n");
  EXPECT_TRUE(std::filesystem::exists(workspace_ / "sub" / "made-here"));
}

TEST_F(ShellRuntimeTest, OutputArrivesBeforeTheProcessExits) {
  auto id = create(spec("echo first; exec sleep 30"));
  std::string output;
  bool run_returned = false;
  bool first_seen_while_running = false;
  Result<ExitStatus> status;
  asio::co_spawn(io_,
                 runtime_->run(id,
                               [&](std::string_view v) {
                                 output.append(v);
                                 if (output == "first\n") {
                                   first_seen_while_running = !run_returned;
                                   asio::co_spawn(io_, runtime_->kill(id), asio::detached);
                                 }
                               }),
                 [&](std::exception_ptr, Result<ExitStatus> r) {
                   status = std::move(r);
                   run_returned = true;
                 });
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(
      io_, [&] { return run_returned; }, 20s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_TRUE(first_seen_while_running);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 128 + SIGKILL);
}

TEST_F(ShellRuntimeTest, StopSendsTermThenKillAfterGrace) {
  // The first job exits on SIGTERM; the second ignores it and needs the SIGKILL.
  for (bool ignores_term : {false, true}) {
    auto id = create(spec(ignores_term ? "trap '' TERM; echo ready; exec sleep 60"
                                       : "echo ready; exec sleep 60"));
    bool run_returned = false;
    Result<ExitStatus> status;
    std::chrono::steady_clock::time_point stop_called;
    asio::co_spawn(io_,
                   runtime_->run(id,
                                 [&](std::string_view v) {
                                   if (v.find("ready") == std::string_view::npos) return;
                                   stop_called = std::chrono::steady_clock::now();
                                   asio::co_spawn(io_, runtime_->stop(id, 1s), asio::detached);
                                 }),
                   [&](std::exception_ptr, Result<ExitStatus> r) {
                     status = std::move(r);
                     run_returned = true;
                   });
    ASSERT_TRUE(run_until(
        io_, [&] { return run_returned; }, 20s));
    auto took = std::chrono::steady_clock::now() - stop_called;
    ASSERT_TRUE(status.ok());
    if (ignores_term) {
      EXPECT_EQ(status->exit_code, 128 + SIGKILL);
      EXPECT_GE(took, 900ms);
    } else {
      EXPECT_EQ(status->exit_code, 128 + SIGTERM);
    }
    EXPECT_LT(took, 5s);
  }
}

TEST_F(ShellRuntimeTest, ProcessesLeftBehindAreKilledWhenTheJobEnds) {
  // The background sleep holds the output pipe open; run() must still return at once.
  auto id = create(spec("sleep 60 & echo started"));
  auto started = std::chrono::steady_clock::now();
  auto status = run_coro(io_, runtime_->run(id, nullptr), 20s);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(ShellRuntimeTest, MissingProgramExits127WithAMessage) {
  ContainerSpec s = spec("");
  s.command = {"corral-no-such-program-" + random_hex(4)};
  auto id = create(s);
  std::string output;
  auto status = run_coro(io_, runtime_->run(id, [&](std::string_view v) { output.append(v); }));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 127);
  EXPECT_NE(output.find(s.command[0]), std::string::npos);
}

TEST_F(ShellRuntimeTest, StopBeforeRunMeansItNeverStarts) {
  auto id = create(spec("touch should-not-exist"));
  ASSERT_TRUE(run_coro(io_, runtime_->stop(id, 1s)).ok());
  auto status = run_coro(io_, runtime_->run(id, nullptr));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 128 + SIGKILL);
  EXPECT_FALSE(std::filesystem::exists(workspace_ / "should-not-exist"));
}

TEST_F(ShellRuntimeTest, ListByLabelAndRemove) {
  auto s = spec("true");
  s.labels["corral.job"] = "job_listed";
  auto id = create(s);
  auto other = create(spec("true"));
  auto listed = run_coro(io_, runtime_->list("corral.job=job_listed"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].state, "created");
  ASSERT_TRUE(run_coro(io_, runtime_->remove(id)).ok());
  ASSERT_TRUE(run_coro(io_, runtime_->remove(id)).ok());  // unknown id: still fine
  listed = run_coro(io_, runtime_->list("corral.job=job_listed"));
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(run_coro(io_, runtime_->list("corral.runner=runner_test"))->size(), 1u);
  auto gone = run_coro(io_, runtime_->run(id, nullptr));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  (void)other;
}

TEST_F(ShellRuntimeTest, RefusesWhatItCannotDo) {
  EXPECT_FALSE(runtime_->capabilities().isolation);
  EXPECT_FALSE(runtime_->capabilities().exec);
  auto s = spec("true");
  s.working_dir = "/elsewhere";
  auto id = run_coro(io_, runtime_->create(s));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code, ErrorCode::kInvalidSpec);
  auto exec = run_coro(io_, runtime_->exec("x", ExecSpec{}));
  EXPECT_FALSE(exec.ok());
  auto info = run_coro(io_, runtime_->info());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "shell");
}

TEST(HostPathTest, MapsThroughTheLongestMatchingBind) {
  std::vector<std::string> binds{"/srv/ws:/workspace", "/srv/cache:/workspace/cache:ro"};
  EXPECT_EQ(*host_path_for(binds, "/workspace"), "/srv/ws");
  EXPECT_EQ(*host_path_for(binds, "/workspace/src/app"), "/srv/ws/src/app");
  EXPECT_EQ(*host_path_for(binds, "/workspace/cache/x"), "/srv/cache/x");
  EXPECT_FALSE(host_path_for(binds, "/workspacefoo").ok());
  EXPECT_FALSE(host_path_for(binds, "/workspace/../etc").ok());
  EXPECT_FALSE(host_path_for({}, "/workspace").ok());
}

}  // namespace
}  // namespace corral

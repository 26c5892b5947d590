#include "common/spawn.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace corral {
namespace {

// Whether process `pid` is gone or a zombie (killed, not yet reaped by its new parent).
bool spawn_test_process_ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  auto close_paren = text.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < text.size() &&
         (text[close_paren + 2] == 'Z' || text[close_paren + 2] == 'X');
}

TEST(SpawnTest, CapturesTheExitCodeAndBothOutputs) {
  auto out = run_process({"sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->exit_code, 3);
  EXPECT_FALSE(out->timed_out);
  EXPECT_EQ(out->output, "to-stdout\nto-stderr\n");
}

TEST(SpawnTest, PassesEnvironmentAndWorkingDirectory) {
  auto dir =
      std::filesystem::temp_directory_path() / ("corral-spawn-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  RunOptions options;
  options.env = {{"CORRAL_SPAWN_TEST", "value with spaces"}};
  options.cwd = dir;
  auto out = run_process({"sh", "-c", "echo \"$CORRAL_SPAWN_TEST\"; pwd; echo \"$HOME\""}, options);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->exit_code, 0);
  const char* home = std::getenv("HOME");
  EXPECT_EQ(out->output, "value with spaces\n" + dir.string() + "\n" +
                             std::string(home ? home : "") + "\n");  // the rest is inherited
}

TEST(SpawnTest, ASignalEndsWith128PlusItsNumber) {
  auto out = run_process({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->exit_code, 128 + SIGTERM);
}

TEST(SpawnTest, ResetsIgnoredSignalsForTheChild) {
  // A runner ignores SIGPIPE; a child that inherited that would see EPIPE instead of dying.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ::sigaction(SIGPIPE, &ignore, &previous);
  auto out = run_process({"sh", "-c", "trap - PIPE; kill -PIPE $$"});
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->exit_code, 128 + SIGPIPE);
}

TEST(SpawnTest, KeepsTheFirstMaxOutputBytesAndDrainsTheRest) {
  RunOptions options;
  options.max_output = 10;
  // 1 MB is more than a pipe holds: the command finishes only if the rest is read too.
  auto out = run_process({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"}, options);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->output, std::string(10, 'x'));
}

TEST(SpawnTest, TimeoutKillsTheWholeProcessGroup) {
  RunOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto started = std::chrono::steady_clock::now();
  // The shell starts a grandchild, reports its pid and waits for it: both must die.
  auto out = run_process({"sh", "-c", "sleep 60 & echo $!; wait"}, options);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(out->timed_out);
  EXPECT_EQ(out->exit_code, 128 + SIGKILL);
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(30));
  pid_t grandchild = std::stoi(out->output);
  ASSERT_GT(grandchild, 1);
  // SIGKILL is delivered asynchronously: wait (bounded) for the grandchild to end.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!spawn_test_process_ended(grandchild) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(spawn_test_process_ended(grandchild)) << "pid " << grandchild;
}

TEST(SpawnTest, NoTimeoutWhenTheCommandFinishesInTime) {
  RunOptions options;
  options.timeout = std::chrono::seconds(30);
  auto out = run_process({"echo", "quick"}, options);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_FALSE(out->timed_out);
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->output, "quick\n");
}

TEST(SpawnTest, AMissingProgramIsAClearError) {
  auto out = run_process({"corral-no-such-program", "--version"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, ErrorCode::kIo);
  EXPECT_NE(out.error().message.find("cannot run corral-no-such-program"), std::string::npos)
      << out.error().message;
  EXPECT_NE(out.error().message.find("No such file or directory"), std::string::npos)
      << out.error().message;
  EXPECT_NE(out.error().message.find("PATH"), std::string::npos) << out.error().message;
}

TEST(SpawnTest, AKilledKillerRunsNothing) {
  CommandKiller killer;
  killer.kill();
  RunOptions options;
  options.killer = &killer;
  auto out = run_process({"sh", "-c", "echo ran"}, options);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("killed before sh ran"), std::string::npos);
}

TEST(SpawnTest, SpawnProcessReportsTheErrno) {
  pid_t pid = -1;
  EXPECT_EQ(spawn_process({"corral-no-such-program"}, {}, &pid), ENOENT);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  SpawnOptions options;
  options.output_fd = pipe_fds[1];
  ASSERT_EQ(spawn_process({"sh", "-c", "echo $(( $$ == $(ps -o pgid= -p $$) ))"}, options, &pid),
            0);
  ::close(pipe_fds[1]);
  char buffer[16] = {};
  ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer - 1);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(exit_code_of_wait_status(status), 0);
  EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<size_t>(n) : 0), "1\n");  // a group leader
}

}  // namespace
}  // namespace corral

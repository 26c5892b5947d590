// ScriptedRuntime, the fake the runner's unit tests use, behaves like a runtime.
#include "runtime/fake/scripted_runtime.h"

#include <gtest/gtest.h>

#include "coro_test_util.h"

namespace corral {
namespace {

using testing::run_coro;
using testing::run_until;
using namespace std::chrono_literals;

ContainerSpec labelled(const std::string& job) {
  ContainerSpec spec;
  spec.image = "alpine";
  spec.labels = {{"corral.runner", "r1"}, {"corral.job", job}};
  return spec;
}

TEST(ScriptedRuntimeTest, PlaysTheScriptAndRecordsCalls) {
  asio::io_context io;
  ScriptedRuntime rt;
  ContainerScript script;
  script.output = {"line 1\n", "line 2\n"};
  script.exit_code = 4;
  script.oom_killed = true;
  rt.set_script(script);
  ASSERT_TRUE(run_coro(io, rt.ensure_image("alpine", PullPolicy::kAlways)).ok());
  auto id = run_coro(io, rt.create(labelled("j1")));
  ASSERT_TRUE(id.ok());
  std::string output;
  auto status = run_coro(io, rt.run(*id, [&](std::string_view p) { output.append(p); }));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(output, "line 1\nline 2\n");
  EXPECT_EQ(status->exit_code, 4);
  EXPECT_TRUE(status->oom_killed);
  ASSERT_TRUE(run_coro(io, rt.remove(*id)).ok());
  EXPECT_EQ(rt.calls(), (std::vector<std::string>{"ensure_image alpine always", "create fake_1",
                                                  "run fake_1", "remove fake_1"}));
  EXPECT_EQ(rt.created().at(0).labels.at("corral.job"), "j1");
  EXPECT_EQ(rt.live_containers(), 0u);
}

TEST(ScriptedRuntimeTest, StopAndKillEndARunningContainer) {
  asio::io_context io;
  ScriptedRuntime rt;
  ContainerScript script;
  script.output = {"ready\n"};
  script.run_until_stopped = true;
  rt.set_script(script);
  for (bool use_kill : {false, true}) {
    auto id = run_coro(io, rt.create(labelled("j")));
    ASSERT_TRUE(id.ok());
    bool returned = false;
    Result<ExitStatus> status;
    asio::co_spawn(io, rt.run(*id, nullptr), [&](std::exception_ptr, Result<ExitStatus> r) {
      status = std::move(r);
      returned = true;
    });
    ASSERT_TRUE(run_until(
        io, [&] { return rt.is_running(*id); }, 5s));
    EXPECT_FALSE(returned);
    if (use_kill) {
      ASSERT_TRUE(run_coro(io, rt.kill(*id)).ok());
    } else {
      ASSERT_TRUE(run_coro(io, rt.stop(*id, 10s)).ok());
    }
    ASSERT_TRUE(run_until(
        io, [&] { return returned; }, 5s));
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(status->exit_code, use_kill ? 137 : 143);
  }
}

TEST(ScriptedRuntimeTest, ScriptedFailuresAndLabels) {
  asio::io_context io;
  ScriptedRuntime rt;
  rt.fail_image("private/app", make_error(ErrorCode::kImagePull, "denied"));
  auto pulled = run_coro(io, rt.ensure_image("private/app", PullPolicy::kIfNotPresent));
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.error().code, ErrorCode::kImagePull);

  auto a = run_coro(io, rt.create(labelled("a")));
  auto b = run_coro(io, rt.create(labelled("b")));
  auto listed = run_coro(io, rt.list("corral.job=b"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *b);
  EXPECT_EQ(run_coro(io, rt.list("corral.runner=r1"))->size(), 2u);

  ASSERT_TRUE(run_coro(io, rt.stop(*a, 1s)).ok());  // before it ever ran
  auto status = run_coro(io, rt.run(*a, nullptr));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->exit_code, 143);

  ContainerScript failing;
  failing.create_error = make_error(ErrorCode::kUnavailable, "engine down");
  rt.set_script(failing);
  auto created = run_coro(io, rt.create(labelled("c")));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace corral

// GET /api/v1/jobs/{id}/logs/stream (WebSocket) against the real server binary, with a
// TestRunner posting the log by hand; and `corral logs -f` / `corral submit --follow`.
#include <regex>
#include <thread>

#include "harness.h"
#include "log_watcher.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// A server, a user, and a runner that has claimed and started one job.
struct RunningJob {
  explicit RunningJob(std::map<std::string, std::string> env = {})
      : server(std::move(env)),
        user_token(create_token(server, "user")),
        user(server.url(), user_token),
        runner(
            TestRunner::register_with(server, create_token(server, "runner"), {{"name", "r1"}})) {
    id = user.post("/api/v1/jobs", {{"command", {"echo"}}}, 201)["id"];
    auto claimed = runner.claim();
    EXPECT_EQ(claimed["jobs"].size(), 1u);
    EXPECT_EQ(runner.start(id, 1).status, 200);
  }
  // Appends data to attempt 1's log.
  void post(const std::string& data, int attempt = 1) {
    auto res = runner.log(id, attempt, log.size(), data);
    ASSERT_EQ(res.status, 200) << res.body;
    log += data;
  }
  std::unique_ptr<LogWatcher> watch(const std::string& query = "") {
    auto w = std::make_unique<LogWatcher>(server.url(), stream_target(id, query), user_token);
    EXPECT_EQ(w->status, 101) << w->refusal;
    w->start();
    return w;
  }

  ServerProcess server;
  std::string user_token;
  Api user;
  TestRunner runner;
  std::string id;
  std::string log;
};

TEST(LogStream, TwoWatchersGetTheSameBytesLiveAndInOrder) {
  RunningJob job;
  auto a = job.watch();
  auto b = job.watch();
  for (int i = 0; i < 60; ++i) {
    job.post("line " + std::to_string(i) + std::string(i * 37 % 500, 'x') + "\n");
    if (i % 15 == 14) {
      // Live: the bytes arrive while the job is still running, not at its end.
      ASSERT_TRUE(a->wait_for_bytes(job.log.size()))
          << a->bytes().size() << " of " << job.log.size();
      ASSERT_TRUE(b->wait_for_bytes(job.log.size()));
    }
  }
  ASSERT_EQ(job.runner.finish(job.id, 1, {{"state", "failed"}, {"exit_code", 3}}).status, 200);
  for (auto* w : {a.get(), b.get()}) {
    ASSERT_TRUE(w->wait_closed());
    EXPECT_EQ(w->bytes(), job.log);
    auto end = w->end();
    EXPECT_EQ(end["state"], "failed") << end;
    EXPECT_EQ(end["exit_code"], 3);
    auto attempts = w->texts_of("attempt");
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0]["attempt"], 1);
    EXPECT_EQ(w->texts().back()["type"], "end");
  }
}

TEST(LogStream, ALateWatcherGetsTheWholeLogAndOffsetSkips) {
  RunningJob job;
  for (int i = 0; i < 20; ++i) job.post("early " + std::to_string(i) + "\n");
  auto late = job.watch();
  auto tail = job.watch("offset=10");
  ASSERT_TRUE(late->wait_for_bytes(job.log.size()));
  for (int i = 0; i < 20; ++i) job.post("later " + std::to_string(i) + "\n");
  ASSERT_EQ(job.runner.finish(job.id, 1, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  ASSERT_TRUE(late->wait_closed());
  ASSERT_TRUE(tail->wait_closed());
  EXPECT_EQ(late->bytes(), job.log);
  EXPECT_EQ(tail->bytes(), job.log.substr(10));
  EXPECT_EQ(late->end()["state"], "succeeded");
  EXPECT_EQ(late->end()["exit_code"], 0);
  // A job that has ended: the stored log, then "end", at once.
  auto after = job.watch();
  ASSERT_TRUE(after->wait_closed());
  EXPECT_EQ(after->bytes(), job.log);
  EXPECT_EQ(after->end()["state"], "succeeded");
}

TEST(LogStream, ErrorsBeforeTheUpgradeAreJsonErrors) {
  RunningJob job;
  LogWatcher anonymous(job.server.url(), stream_target(job.id), "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.refusal.find("unauthorized"), std::string::npos) << anonymous.refusal;
  std::string other = create_token(job.server, "user", "other-tenant");
  LogWatcher stranger(job.server.url(), stream_target(job.id), other);
  EXPECT_EQ(stranger.status, 404) << stranger.refusal;
  LogWatcher no_attempt(job.server.url(), stream_target(job.id, "attempt=7"), job.user_token);
  EXPECT_EQ(no_attempt.status, 404);
  LogWatcher query_token(job.server.url(), stream_target(job.id, "token=" + job.user_token), "");
  EXPECT_EQ(query_token.status, 101);
  auto plain = job.user.request(http::verb::get, stream_target(job.id));
  EXPECT_EQ(plain.status, 426) << plain.body;
}

TEST(LogStream, AJobCanceledWhileQueuedEnds) {
  ServerProcess server;
  std::string token = create_token(server, "user");
  Api user(server.url(), token);
  std::string id = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  LogWatcher w(server.url(), stream_target(id), token);
  ASSERT_EQ(w.status, 101);
  w.start();
  user.post("/api/v1/jobs/" + id + "/cancel", json::object());
  ASSERT_TRUE(w.wait_closed());
  EXPECT_EQ(w.end()["state"], "canceled");
  EXPECT_EQ(w.bytes(), "");
}

TEST(LogStream, AWatcherFollowsTheNextAttemptOfARequeuedJob) {
  RunningJob job({{"RUNNER_HEARTBEAT_INTERVAL_MS", "100"},
                  {"RUNNER_HEARTBEAT_TIMEOUT_MS", "400"},
                  {"CORRAL_SWEEP_INTERVAL_MS", "50"}});
  auto w = job.watch();
  job.post("first try\n");
  ASSERT_TRUE(w->wait_for_bytes(job.log.size()));
  // No heartbeat: the lease runs out and the job goes back to the queue.
  wait_for_job(job.user, job.id, {"queued"}, 10s);
  job.runner.heartbeat();
  auto claimed = job.runner.claim(5000);
  ASSERT_EQ(claimed["jobs"].size(), 1u) << claimed;
  ASSERT_EQ(claimed["jobs"][0]["attempt"], 2);
  ASSERT_EQ(job.runner.start(job.id, 2).status, 200);
  ASSERT_EQ(job.runner.log(job.id, 2, 0, "second try\n").status, 200);
  job.runner.heartbeat({{{"job_id", job.id}, {"attempt", 2}}});
  ASSERT_EQ(job.runner.finish(job.id, 2, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  ASSERT_TRUE(w->wait_closed());
  EXPECT_EQ(w->bytes(), "first try\nsecond try\n");
  auto attempts = w->texts_of("attempt");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[1]["attempt"], 2);
  EXPECT_EQ(w->end()["state"], "succeeded");
}

TEST(LogStream, ASlowWatcherNeverSlowsTheRunnerNorLosesBytes) {
  RunningJob job({{"CORRAL_LOG_STREAM_QUEUE_BYTES", std::to_string(1024 * 1024)}});
  // Upgrades, then reads nothing until the end: the server cannot write to it.
  LogWatcher slow(job.server.url(), stream_target(job.id), job.user_token, 4096);
  ASSERT_EQ(slow.status, 101);
  auto normal = job.watch();
  std::string block(128 * 1024, '.');
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < 128; ++i) {  // 16 MiB
    std::string chunk = std::to_string(i) + block;
    auto t0 = std::chrono::steady_clock::now();
    job.post(chunk);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
  }
  EXPECT_LT(slowest, 2s) << "a log POST waited for a watcher";
  ASSERT_TRUE(normal->wait_for_bytes(job.log.size(), 60s));
  ASSERT_EQ(job.runner.finish(job.id, 1, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  ASSERT_TRUE(normal->wait_closed());
  EXPECT_TRUE(normal->bytes() == job.log);
  // Now the slow watcher reads: it was told it lagged and still got every byte once.
  slow.start();
  ASSERT_TRUE(slow.wait_closed(60s));
  EXPECT_EQ(slow.bytes().size(), job.log.size());
  EXPECT_TRUE(slow.bytes() == job.log);
  EXPECT_FALSE(slow.texts_of("lagged").empty());
  EXPECT_EQ(slow.end()["state"], "succeeded");
}

TEST(LogStream, TheServerStopsCleanlyWithWatchersConnected) {
  RunningJob job;
  job.post("some output\n");
  auto w = job.watch();
  ASSERT_TRUE(w->wait_for_bytes(job.log.size()));
  EXPECT_EQ(job.server.stop(), 0) << job.server.log();
  EXPECT_TRUE(w->wait_closed());
}

// ---- the CLI

TEST(LogStream, CliLogsFollowPrintsTheLogAndExitsWithTheJobsCode) {
  RunningJob job;
  job.post("hello from the job\n");
  std::map<std::string, std::string> env{{"CORRAL_SERVER", job.server.url()},
                                         {"CORRAL_TOKEN", job.user_token}};
  CommandResult followed;
  std::thread cli([&] { followed = run_corral({"logs", "-f", job.id}, env); });
  job.post("more\n");
  ASSERT_EQ(job.runner.finish(job.id, 1, {{"state", "failed"}, {"exit_code", 7}}).status, 200);
  cli.join();
  EXPECT_EQ(followed.exit_code, 7) << followed.err;
  EXPECT_EQ(followed.out, job.log);
  auto printed = run_corral({"logs", job.id}, env);
  EXPECT_EQ(printed.exit_code, 0);
  EXPECT_EQ(printed.out, job.log);
  auto missing = run_corral({"logs", "-f", "job_nope"}, env);
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
}

TEST(LogStream, CliLogsFollowResumesAfterTheServerRestarts) {
  RunningJob job;
  job.post("before the restart\n");
  std::map<std::string, std::string> env{{"CORRAL_SERVER", job.server.url()},
                                         {"CORRAL_TOKEN", job.user_token}};
  auto out_dir = make_temp_dir("corral-follow");
  Process follower({corral_binary(), "logs", "-f", job.id}, env, out_dir / "follow.log");
  ASSERT_TRUE(wait_until(
      [&] { return follower.output().find("before the restart") != std::string::npos; }, 20s));
  job.server.kill9();
  ASSERT_TRUE(
      wait_until([&] { return follower.output().find("reconnecting") != std::string::npos; }, 20s))
      << follower.output();
  job.server.start();  // the same address, as a restarted server has
  ASSERT_TRUE(
      wait_until([&] { return follower.output().find("(reconnected)") != std::string::npos; }, 20s))
      << follower.output();
  TestRunner& runner = job.runner;
  runner.api = std::make_unique<Api>(job.server.url(), runner.secret);  // a fresh connection
  auto res = runner.log(job.id, 1, static_cast<int64_t>(job.log.size()), "after the restart\n");
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_EQ(runner.finish(job.id, 1, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  EXPECT_EQ(follower.wait(20s), 0) << follower.output();
  std::string out = follower.output();
  // Every byte once, in order, across the restart.
  auto first = out.find("before the restart\n");
  auto second = out.find("after the restart\n");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_EQ(out.find("before the restart", first + 1), std::string::npos) << out;
  fs::remove_all(out_dir);
}

TEST(LogStream, CliSubmitFollowWaitsQueuedThenExitsWithTheJobsCode) {
  ServerProcess server;
  std::string token = create_token(server, "user");
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()}, {"CORRAL_TOKEN", token}};
  auto runner = TestRunner::register_with(server, create_token(server, "runner"), {{"name", "r1"}});
  for (int want : {0, 5}) {
    CommandResult followed;
    std::thread cli([&] {
      followed = run_corral({"submit", "--follow", "--", "sh", "-c", "exit"}, env);
    });
    auto claimed = runner.claim(20'000);
    ASSERT_EQ(claimed["jobs"].size(), 1u);
    std::string id = claimed["jobs"][0]["job_id"];
    ASSERT_EQ(runner.start(id, 1).status, 200);
    ASSERT_EQ(runner.log(id, 1, 0, "working\n").status, 200);
    json report{{"state", want == 0 ? "succeeded" : "failed"}, {"exit_code", want}};
    ASSERT_EQ(runner.finish(id, 1, report).status, 200);
    cli.join();
    EXPECT_EQ(followed.exit_code, want) << followed.err;
    EXPECT_EQ(followed.out, "working\n");
    EXPECT_NE(followed.err.find("submitted " + id), std::string::npos) << followed.err;
  }
}

TEST(LogStream, CliSubmitFollowSaysQueuedAndFailsWhenCanceled) {
  ServerProcess server;
  std::string token = create_token(server, "user");
  Api user(server.url(), token);
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()}, {"CORRAL_TOKEN", token}};
  auto dir = make_temp_dir("corral-follow-queued");
  Process cli({corral_binary(), "submit", "--follow", "-l", "nowhere", "--", "true"}, env,
              dir / "cli.log");
  // Not a TTY: plain status lines, the first at once.
  ASSERT_TRUE(wait_until(
      [&] { return cli.output().find("matching runners online") != std::string::npos; }, 20s))
      << cli.output();
  std::string out = cli.output();
  // "queued for Ns": N is 0 or 1 depending on where the second boundary falls.
  EXPECT_TRUE(std::regex_search(
      out, std::regex("queued for [01]s · position 1 · 0/0 matching runners online")))
      << out;
  EXPECT_NE(out.find("no runner is registered"), std::string::npos) << out;
  std::string id = user.get("/api/v1/jobs")["jobs"][0]["id"];
  user.post("/api/v1/jobs/" + id + "/cancel", json::object());
  EXPECT_EQ(cli.wait(20s), 1) << cli.output();
  EXPECT_NE(cli.output().find("canceled"), std::string::npos) << cli.output();
  fs::remove_all(dir);
}

TEST(LogStream, CliSubmitFollowWithARealShellRunner) {
  ServerProcess server;
  RunnerProcess runner(server, "shell", {{"RUNNER_EXECUTOR", "shell"}});
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  auto followed = run_corral(
      {"submit", "--follow", "--script", "for i in 1 2 3; do echo line $i; done; exit 6"}, env);
  EXPECT_EQ(followed.exit_code, 6) << followed.err << runner.log();
  EXPECT_NE(followed.out.find("line 1\nline 2\nline 3\n"), std::string::npos) << followed.out;
  auto ok = run_corral({"submit", "--follow", "--", "echo", "fine"}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("fine\n"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace corral::testing

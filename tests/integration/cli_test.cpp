// The `corral` CLI against a real server.
#include <fstream>
#include <sstream>

#include "harness.h"

namespace corral::testing {
namespace {

TEST(Cli, SubmitListShowCancelAndTokens) {
  ServerProcess server;
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  auto submitted = run_corral(
      {"submit", "--name", "hello", "-l", "linux,x64", "--memory", "64m", "--", "echo", "hi there"},
      env);
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_EQ(id.rfind("job_", 0), 0u) << submitted.out;

  auto shown = run_corral({"job", id, "--json"}, env);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  auto job = json::parse(shown.out);
  EXPECT_EQ(job["spec"]["command"], json({"echo", "hi there"}));
  EXPECT_EQ(job["labels"], json({"linux", "x64"}));
  EXPECT_EQ(job["spec"]["resources"]["memory"], 64 * 1024 * 1024);

  auto table = run_corral({"jobs"}, env);
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find(id), std::string::npos);
  EXPECT_NE(table.out.find("queued"), std::string::npos);

  auto from_file = run_corral({"submit", "-f", "-", "--json"}, env,
                              R"({"name":"from-stdin","script":"echo x"})");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(json::parse(from_file.out)["name"], "from-stdin");

  auto canceled = run_corral({"cancel", id}, env);
  EXPECT_EQ(canceled.exit_code, 0);
  EXPECT_NE(canceled.out.find("canceled"), std::string::npos);

  auto created = run_corral({"tokens", "create", "--kind", "runner", "--name", "ci-box"}, env);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.out.rfind("crl_", 0), 0u);
  auto listed = run_corral({"tokens", "list"}, env);
  EXPECT_NE(listed.out.find("ci-box"), std::string::npos);
  EXPECT_EQ(listed.out.find(created.out.substr(0, 20)), std::string::npos);  // never the secret
  EXPECT_NE(listed.out.find("LAST USED"), std::string::npos) << listed.out;

  auto whoami = run_corral({"whoami"}, env);
  ASSERT_EQ(whoami.exit_code, 0) << whoami.err;
  EXPECT_NE(whoami.out.find("kind:    admin"), std::string::npos) << whoami.out;
  EXPECT_EQ(whoami.out.find(server.admin_token()), std::string::npos) << whoami.out;

  auto q = run_corral({"queue", "--json"}, env);
  ASSERT_EQ(q.exit_code, 0);
  EXPECT_EQ(json::parse(q.out)["by_state"]["canceled"], 1);
  EXPECT_EQ(run_corral({"runners"}, env).exit_code, 0);
}

TEST(Cli, SubmitBatchSendsEveryJobOfAFileInBatchesOfFiveHundred) {
  ServerProcess server;
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  Api api(server.url(), server.admin_token());
  auto queued = [&] { return api.get("/api/v1/queue")["by_state"].value("queued", 0); };

  // 502 specs, one per line: two batches; the flags apply to every job.
  fs::path dir = make_temp_dir("corral-cli-batch");
  std::string lines;
  for (int i = 0; i < 502; ++i) {
    lines += json{{"name", "shard-" + std::to_string(i)}, {"command", {"true"}}}.dump() + "\n";
  }
  std::ofstream(dir / "jobs.jsonl") << lines;
  auto sent = run_corral({"submit", "--batch", (dir / "jobs.jsonl").string(), "-l", "linux",
                          "--idempotency-key", "sweep-7"},
                         env);
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::vector<std::string> ids;
  std::istringstream out(sent.out);
  for (std::string id; std::getline(out, id);) ids.push_back(id);
  ASSERT_EQ(ids.size(), 502u) << sent.out.substr(0, 200);
  EXPECT_EQ(queued(), 502);
  auto last = api.get("/api/v1/jobs/" + ids[501]);
  EXPECT_EQ(last["name"], "shard-501");
  EXPECT_EQ(last["labels"], json({"linux"}));

  // The same file and key again: the same jobs, none new.
  auto again = run_corral({"submit", "--batch", (dir / "jobs.jsonl").string(), "-l", "linux",
                           "--idempotency-key", "sweep-7"},
                          env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, sent.out);
  EXPECT_EQ(queued(), 502);

  // A JSON list on stdin; a bad spec refuses its batch, named, and stores nothing.
  auto listed = run_corral({"submit", "--batch", "-", "--json"}, env,
                           R"([{"script":"echo a"},{"script":"echo b"}])");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out)["jobs"].size(), 2u);
  auto bad = run_corral({"submit", "--batch", "-"}, env,
                        R"([{"script":"echo a"},{"script":"echo b","priority":5000}])");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("jobs[1]"), std::string::npos) << bad.err;
  auto empty = run_corral({"submit", "--batch", "-"}, env, "[]");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("no job specs"), std::string::npos) << empty.err;
  EXPECT_EQ(queued(), 504);
  fs::remove_all(dir);
}

TEST(Cli, ErrorsExitNonZeroWithTheServersMessage) {
  ServerProcess server;
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  auto invalid = run_corral({"submit", "--priority", "5000", "--", "true"}, env);
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_NE(invalid.err.find("priority"), std::string::npos) << invalid.err;
  EXPECT_NE(invalid.err.find("422"), std::string::npos);
  auto missing = run_corral({"job", "job_doesnotexist"}, env);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no job"), std::string::npos);
  auto unauthorized = run_corral({"jobs", "--token", "crl_wrong"}, env);
  EXPECT_NE(unauthorized.exit_code, 0);
  EXPECT_NE(unauthorized.err.find("unknown token"), std::string::npos);
  auto down = run_corral({"jobs", "--server", "http://127.0.0.1:1"}, env);
  EXPECT_NE(down.exit_code, 0);
  EXPECT_NE(down.err.find("cannot reach"), std::string::npos);
}

}  // namespace
}  // namespace corral::testing

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

TEST(Cli, WatchRedrawsRunnersAndQueueUntilStopped) {
  ServerProcess server;
  auto runner =
      TestRunner::register_with(server, create_token(server, "runner"), {{"name", "watched-box"}});
  std::map<std::string, std::string> env{{"CORRAL_SERVER", server.url()},
                                         {"CORRAL_TOKEN", server.admin_token()}};
  auto dir = make_temp_dir("corral-watch");
  for (std::string verb : {"runners", "queue"}) {
    Process watch({corral_binary(), verb, "--watch", "0.2"}, env, dir / (verb + ".log"));
    auto redraws = [&] {
      std::string out = watch.output();
      size_t n = 0;
      for (size_t at = out.find(verb == "runners" ? "watched-box" : "STATE");
           at != std::string::npos;
           at = out.find(verb == "runners" ? "watched-box" : "STATE", at + 1)) {
        ++n;
      }
      return n;
    };
    EXPECT_TRUE(wait_until([&] { return redraws() >= 3; }, 10s)) << watch.output();
    EXPECT_TRUE(watch.running());  // it keeps going until stopped
    watch.signal(SIGINT);
    EXPECT_NE(watch.wait(5s), -1);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace corral::testing

// Remote commands (docs/runner.md, Remote control) through the real server and `corral
// runner` (shell executor): drain, resume, restart and update, delivered to the runner's
// parked claim and acknowledged. The runners beat only once a minute here, so a command
// that arrives in seconds came through the parked claim, and its acknowledgement through
// the heartbeat the runner sends at once.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "common/crypto.h"
#include "integration/harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

const std::map<std::string, std::string> kQuietRunner{{"RUNNER_EXECUTOR", "shell"},
                                                      {"RUNNER_HEARTBEAT_INTERVAL_MS", "60000"}};

std::string file_sha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return sha256_hex(bytes.str());
}

// Sends the command; waits until it has finished; returns it as the API shows it.
json command_and_wait(Api& admin, const std::string& runner_id, const std::string& type,
                      std::chrono::milliseconds deadline = 15s) {
  json sent = admin.post("/api/v1/runners/" + runner_id + "/commands", {{"type", type}}, 201);
  EXPECT_EQ(sent["type"], type);
  EXPECT_EQ(sent["state"], "pending");
  json seen;
  wait_until(
      [&] {
        json listed = admin.get("/api/v1/runners/" + runner_id + "/commands");
        for (const auto& c : listed["commands"]) {
          if (c["id"] == sent["id"]) seen = c;
        }
        return seen.is_object() && (seen["state"] == "succeeded" || seen["state"] == "failed");
      },
      deadline, 20ms);
  return seen;
}

// The runner binary a test may replace: the one under test under another name in the
// test's dir. A hard link where it can (the sanitized build is 280 MB): the update renames
// and writes names, never the file itself.
fs::path copy_of_corral(const fs::path& dir) {
  fs::path copy = dir / "bin" / "corral";
  fs::create_directories(copy.parent_path());
  std::error_code ec;
  fs::create_hard_link(corral_binary(), copy, ec);
  if (ec) fs::copy_file(corral_binary(), copy, fs::copy_options::overwrite_existing);
  return copy;
}

// Whether the two names are the same file, or files with the same bytes.
bool same_binary(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  return fs::file_size(a, ec) == fs::file_size(b, ec) && file_sha256(a) == file_sha256(b);
}

TEST(RemoteControl, DrainAndResumeReachTheParkedClaimAtOnceAndAreAcknowledged) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  RunnerProcess runner(server, "steered", kQuietRunner);

  auto started = std::chrono::steady_clock::now();
  json drained = command_and_wait(admin, runner.id(), "drain");
  EXPECT_EQ(drained["state"], "succeeded") << drained.dump() << runner.log();
  EXPECT_NE(drained["message"].get<std::string>().find("draining"), std::string::npos);
  EXPECT_FALSE(drained["delivered_at"].is_null());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "not by the parked claim";
  EXPECT_EQ(admin.get("/api/v1/runners/" + runner.id())["status"], "draining");

  // Drained: a job waits. Resumed: the runner takes it.
  std::string job = admin.post("/api/v1/jobs", {{"script", "echo resumed"}}, 201)["id"];
  EXPECT_EQ(admin.get("/api/v1/jobs/" + job)["state"], "queued");
  json resumed = command_and_wait(admin, runner.id(), "resume");
  EXPECT_EQ(resumed["state"], "succeeded") << resumed.dump() << runner.log();
  EXPECT_EQ(wait_for_job(admin, job, {"succeeded", "failed"}, 15s)["state"], "succeeded")
      << runner.log();
  EXPECT_NE(admin.get("/api/v1/runners/" + runner.id())["status"], "draining");

  // Bad commands are refused with what is allowed, and nothing is recorded for them.
  auto bad = admin.request(http::verb::post, "/api/v1/runners/" + runner.id() + "/commands",
                           json({{"type", "reboot"}}).dump());
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("drain, resume, restart, update"), std::string::npos) << bad.body;
  auto unknown = admin.request(http::verb::post, "/api/v1/runners/runner_nope/commands",
                               json({{"type", "drain"}}).dump());
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto no_binary = admin.request(http::verb::post, "/api/v1/runners/" + runner.id() + "/commands",
                                 json({{"type", "update"}}).dump());
  EXPECT_EQ(no_binary.status, 409) << no_binary.body;
  EXPECT_NE(no_binary.body.find("--runner-binary"), std::string::npos) << no_binary.body;
  Api user(server.url(), create_token(server, "user"));
  EXPECT_EQ(user.request(http::verb::post, "/api/v1/runners/" + runner.id() + "/commands",
                         json({{"type", "drain"}}).dump())
                .status,
            403);
  EXPECT_EQ(admin.get("/api/v1/runners/" + runner.id() + "/commands")["commands"].size(), 2u);
}

// The plain routes (the runner page's Drain and Resume buttons): a drain the runner has
// heard of is ended by a resume, and the runner takes jobs again at once. Seen in CI: a
// heartbeat between the two made the runner drain itself, and nothing ever told it to resume.
TEST(RemoteControl, APlainResumeEndsADrainTheRunnerHasHeardOf) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  RunnerProcess runner(server, "plain",
                       {{"RUNNER_EXECUTOR", "shell"}, {"RUNNER_HEARTBEAT_INTERVAL_MS", "200"}});
  admin.post("/api/v1/runners/" + runner.id() + "/drain", json::object());
  ASSERT_TRUE(wait_until(
      [&] { return runner.log().find("asked this runner to drain") != std::string::npos; }, 15s))
      << runner.log();
  std::string job = admin.post("/api/v1/jobs", {{"script", "echo resumed"}}, 201)["id"];
  admin.post("/api/v1/runners/" + runner.id() + "/resume", json::object());
  EXPECT_EQ(wait_for_job(admin, job, {"succeeded", "failed"}, 15s)["state"], "succeeded")
      << runner.log();
  EXPECT_TRUE(wait_until(
      [&] { return admin.get("/api/v1/runners/" + runner.id())["status"] == "idle"; }, 15s))
      << admin.get("/api/v1/runners/" + runner.id()).dump() << runner.log();
}

TEST(RemoteControl, RestartStartsTheSameProcessAgainAndItReportsBack) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  RunnerProcess runner(server, "phoenix", kQuietRunner);
  std::string registered = admin.get("/api/v1/runners/" + runner.id())["registered_at"];

  json restarted = command_and_wait(admin, runner.id(), "restart");
  EXPECT_EQ(restarted["state"], "succeeded") << restarted.dump() << runner.log();
  EXPECT_NE(restarted["message"].get<std::string>().find("restarted"), std::string::npos);
  json after = admin.get("/api/v1/runners/" + runner.id());
  EXPECT_NE(after["registered_at"], registered) << "it registered again";
  EXPECT_TRUE(runner.process().running()) << "exec keeps the pid";

  // The CLI, waiting for the runner's answer.
  std::map<std::string, std::string> as_admin{{"CORRAL_SERVER", server.url()},
                                              {"CORRAL_TOKEN", server.admin_token()}};
  auto cli = run_corral({"runner-command", runner.id(), "restart", "--wait"}, as_admin);
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find(": succeeded: restarted"), std::string::npos) << cli.out;
  auto wrong = run_corral({"runner-command", runner.id(), "reboot"}, as_admin);
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE((wrong.out + wrong.err).find("drain"), std::string::npos) << wrong.err;
  std::string job = admin.post("/api/v1/jobs", {{"script", "echo again"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(admin, job, {"succeeded", "failed"}, 15s)["state"], "succeeded")
      << runner.log();
}

TEST(RemoteControl, UpdateSwapsInTheServersBuildWhichRegistersAndRunsJobs) {
  fs::path dir = make_temp_dir("corral-update");
  fs::path binary = copy_of_corral(dir);
  ServerProcess server(
      std::map<std::string, std::string>{{"CORRAL_RUNNER_BINARY", CORRAL_NEXT_BINARY}});
  Api admin(server.url(), server.admin_token());
  RunnerProcess runner(server, "upgraded", kQuietRunner, binary);
  std::string old_version = admin.get("/api/v1/runners/" + runner.id())["version"];

  json updated = command_and_wait(admin, runner.id(), "update", 60s);
  EXPECT_EQ(updated["state"], "succeeded") << updated.dump() << runner.log();
  EXPECT_EQ(updated["version"], old_version + "+next") << updated.dump();
  EXPECT_EQ(updated["sha256"], file_sha256(CORRAL_NEXT_BINARY));
  EXPECT_EQ(updated["message"], "updated from " + old_version + " to " + old_version + "+next");
  EXPECT_EQ(admin.get("/api/v1/runners/" + runner.id())["version"], old_version + "+next");
  EXPECT_TRUE(runner.process().running());
  // The new build is in place, the old one kept beside it, the probation marker gone.
  EXPECT_EQ(file_sha256(binary), file_sha256(CORRAL_NEXT_BINARY));
  EXPECT_TRUE(same_binary(binary.string() + ".previous", corral_binary()));
  EXPECT_FALSE(fs::exists(binary.string() + ".update"));
  std::string job = admin.post("/api/v1/jobs", {{"script", "echo on the new build"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(admin, job, {"succeeded", "failed"}, 15s)["state"], "succeeded")
      << runner.log();
  fs::remove_all(dir);
}

TEST(RemoteControl, AnUpdateThatFailsItsSelfCheckIsRefusedAndTheRunnerGoesOn) {
  fs::path dir = make_temp_dir("corral-update");
  fs::path binary = copy_of_corral(dir);
  // A build that answers on the server's machine but cannot start where the runner is
  // (as one missing a library there would): its --version fails in the runner's environment.
  fs::path broken = dir / "broken-corral";
  std::ofstream(broken) << "#!/bin/sh\n[ -n \"$RUNNER_NAME\" ] && exit 3\necho 9.9.9\n";
  fs::permissions(broken, fs::perms::owner_all);
  ServerProcess server(
      std::map<std::string, std::string>{{"CORRAL_RUNNER_BINARY", broken.string()}});
  Api admin(server.url(), server.admin_token());
  RunnerProcess runner(server, "cautious", kQuietRunner, binary);
  std::string old_version = admin.get("/api/v1/runners/" + runner.id())["version"];

  json refused = command_and_wait(admin, runner.id(), "update");
  EXPECT_EQ(refused["state"], "failed") << refused.dump() << runner.log();
  EXPECT_EQ(refused["version"], "9.9.9");
  EXPECT_NE(refused["message"].get<std::string>().find("self-check"), std::string::npos)
      << refused.dump();
  EXPECT_TRUE(same_binary(binary, corral_binary())) << "nothing was replaced";
  EXPECT_FALSE(fs::exists(binary.string() + ".new"));
  EXPECT_EQ(admin.get("/api/v1/runners/" + runner.id())["version"], old_version);
  // It takes jobs again.
  std::string job = admin.post("/api/v1/jobs", {{"script", "echo still here"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(admin, job, {"succeeded", "failed"}, 15s)["state"], "succeeded")
      << runner.log();
  fs::remove_all(dir);
}

TEST(RunnerHealth, ARunnerWhoseDiskIsFullIsInStateErrorAndTakesNoJobs) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  // More free space than any disk has: this runner's disk counts as full.
  auto full_env = kQuietRunner;
  full_env["RUNNER_MIN_FREE_DISK"] = "1000000g";
  full_env["RUNNER_LABELS"] = "shared";
  RunnerProcess full(server, "full", full_env);
  json seen;
  ASSERT_TRUE(wait_until(
      [&] {
        seen = admin.get("/api/v1/runners/" + full.id());
        return seen["status"] == "error";
      },
      15s, 20ms))
      << seen.dump() << full.log();
  EXPECT_NE(seen["error"].get<std::string>().find("disk full"), std::string::npos) << seen.dump();
  EXPECT_NE(seen["error"].get<std::string>().find("RUNNER_MIN_FREE_DISK"), std::string::npos);
  EXPECT_GT(seen["usage"]["system"]["disk_free_bytes"].get<int64_t>(), 0) << seen.dump();
  EXPECT_GT(seen["usage"]["system"]["memory_available_bytes"].get<int64_t>(), 0);
  // /metrics counts it under status error (no metrics token set: open).
  auto metrics = admin.request(http::verb::get, "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_TRUE(std::regex_search(metrics.body,
                                std::regex(R"(corral_runners\{[^}]*status="error"[^}]*\} 1\n)")))
      << metrics.body;
  // Its resource use over time: one sample from its first heartbeats (one a minute).
  json usage = admin.get("/api/v1/runners/" + full.id() + "/usage?hours=1");
  ASSERT_EQ(usage["samples"].size(), 1u) << usage.dump();
  EXPECT_GT(usage["samples"][0]["memory_available_bytes"].get<int64_t>(), 0) << usage.dump();
  EXPECT_GT(usage["samples"][0]["disk_free_bytes"].get<int64_t>(), 0) << usage.dump();
  EXPECT_EQ(usage["every_s"], 60);
  for (const char* bad : {"0", "25", "x", "1h"}) {
    json refused = admin.get("/api/v1/runners/" + full.id() + "/usage?hours=" + bad, 400);
    EXPECT_NE(refused["error"]["message"].get<std::string>().find("1 to 24"), std::string::npos)
        << refused.dump();
  }
  admin.get("/api/v1/runners/nosuchrunner/usage", 404);

  json ados = admin.get("/api/runners");
  for (const auto& r : ados) {
    if (r["id"] == "full") {
      EXPECT_EQ(r["status"], "offline") << ados.dump();
    }
  }

  // A job for it waits, and says why.
  std::string waiting =
      admin.post("/api/v1/jobs", {{"script", "echo waited"}, {"labels", {"shared"}}}, 201)["id"];
  json why = admin.get("/api/v1/jobs/" + waiting + "/why");
  ASSERT_FALSE(why["reasons"].empty()) << why.dump();
  EXPECT_EQ(why["reasons"][0]["code"], "runners_error") << why.dump();
  EXPECT_NE(why["reasons"][0]["message"].get<std::string>().find("full (disk full"),
            std::string::npos)
      << why.dump();
  EXPECT_EQ(why["matching_runners"]["error"], 1) << why.dump();

  // A healthy runner with the same label beside it takes every job; the full one none (it
  // would take about half of them if it claimed).
  auto healthy_env = kQuietRunner;
  healthy_env["RUNNER_LABELS"] = "shared";
  RunnerProcess healthy(server, "healthy", healthy_env);
  EXPECT_EQ(
      wait_for_job(admin, waiting, {"succeeded", "failed"}, 15s)["attempts"].back()["runner_id"],
      healthy.id());
  for (int i = 0; i < 6; ++i) {
    std::string job =
        admin.post("/api/v1/jobs",
                   {{"script", "echo " + std::to_string(i)}, {"labels", {"shared"}}}, 201)["id"];
    json done = wait_for_job(admin, job, {"succeeded", "failed"}, 15s);
    ASSERT_EQ(done["state"], "succeeded") << done.dump() << healthy.log();
    EXPECT_EQ(done["attempts"].back()["runner_id"], healthy.id()) << done.dump();
  }
}

}  // namespace
}  // namespace corral::testing

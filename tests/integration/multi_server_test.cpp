// Several corral servers on one PostgreSQL database (docs/scaling.md): a job submitted on
// one wakes a claim parked on another, a log sent to one streams live from another, and
// killing one server midway loses no accepted job and runs none twice.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common/pg_test_db.h"
#include "harness.h"
#include "log_watcher.h"
#include "store/postgres/pg.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAdminToken = "crl_multi_server_test_admin_token_0123456789";

class MultiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!db_.configured()) GTEST_SKIP() << kPgSkipMessage;
    ASSERT_FALSE(db_.url().empty()) << db_.error();
  }

  std::map<std::string, std::string> server_env(std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> env{{"CORRAL_STORE", db_.url()},
                                           {"CORRAL_ADMIN_TOKEN", kAdminToken}};
    for (auto& [k, v] : extra) env[k] = v;
    return env;
  }

  // The first column of the first row of a query on the test's database.
  std::string query(const std::string& sql) {
    auto conn = pg::Connection::open(db_.url());
    if (!conn.ok()) throw std::runtime_error(conn.error().message);
    auto rows = (*conn)->exec(sql);
    return rows.empty() ? "" : rows.front().text(0);
  }

  PgTestDatabase db_;
};

TEST_F(MultiServerTest, AJobSubmittedOnOneServerWakesAClaimParkedOnAnother) {
  // The safety sweep is an hour away: only the other server's NOTIFY can wake the claim.
  auto env = server_env({{"CORRAL_SAFETY_SWEEP_MS", "3600000"}});
  ServerProcess a(env), b(env);
  EXPECT_TRUE(Api(a.url(), "").get("/healthz")["shared_store"].get<bool>());
  // One database: a token made through A works on B.
  auto runner = TestRunner::register_with(b, create_token(a, "runner"), {{"name", "on-b"}});
  Api user(a.url(), create_token(b, "user"));

  json claimed;
  auto parked_at = std::chrono::steady_clock::now();
  std::thread claimer([&] { claimed = runner.claim(30'000); });
  Api b_health(b.url(), "");
  // No ASSERT before the join: leaving with the claimer's thread running would abort the
  // whole test program instead of failing this test.
  EXPECT_TRUE(
      wait_until([&] { return b_health.get("/healthz")["parked_claims"].get<int>() == 1; }, 10s))
      << "the claim did not park on server B";
  auto id = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"].get<std::string>();
  claimer.join();
  auto waited = std::chrono::steady_clock::now() - parked_at;
  ASSERT_EQ(claimed["jobs"].size(), 1u) << claimed.dump();
  EXPECT_EQ(claimed["jobs"][0]["job_id"], id);
  // Woken by the submit, not by the end of its 30 s long-poll.
  EXPECT_LT(waited, 20s);
}

TEST_F(MultiServerTest, ALogSentToOneServerStreamsLiveFromAnother) {
  auto env = server_env({{"CORRAL_SAFETY_SWEEP_MS", "3600000"}});
  ServerProcess a(env), b(env);
  auto user_token = create_token(a, "user");
  Api user(a.url(), user_token);
  auto runner = TestRunner::register_with(a, create_token(a, "runner"), {{"name", "on-a"}});
  auto id = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"].get<std::string>();
  ASSERT_EQ(runner.claim()["jobs"].size(), 1u);
  ASSERT_EQ(runner.start(id, 1).status, 200);
  ASSERT_EQ(runner.log(id, 1, 0, "first line\n").status, 200);

  LogWatcher watcher(b.url(), stream_target(id), user_token);
  ASSERT_EQ(watcher.status, 101) << watcher.refusal;
  watcher.start();
  ASSERT_TRUE(watcher.wait_for_bytes(11));
  // Sent to A while the watcher on B waits: it arrives long before B's 10 s re-read.
  auto sent_at = std::chrono::steady_clock::now();
  ASSERT_EQ(runner.log(id, 1, 11, "second line\n").status, 200);
  ASSERT_TRUE(watcher.wait_for_bytes(23, 8s)) << watcher.bytes();
  EXPECT_LT(std::chrono::steady_clock::now() - sent_at, 8s);
  EXPECT_EQ(watcher.bytes(), "first line\nsecond line\n");
  ASSERT_EQ(runner.finish(id, 1, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  ASSERT_TRUE(watcher.wait_closed());
  EXPECT_EQ(watcher.end()["state"], "succeeded");
}

// What the runners and submitters saw, to check against the database at the end.
struct Ledger {
  std::mutex mu;
  std::map<std::string, std::set<std::string>>
      started_by;                               // job -> runners whose start was accepted
  std::map<std::string, int> finished;          // job -> accepted finishes
  std::map<std::string, std::string> accepted;  // idempotency key -> job id
  std::vector<std::string> problems;
  std::vector<std::string> refused_starts;  // a lease that ran out before its start
};

// A runner speaking the protocol by hand to its server, and to the other one when its
// server stops answering (what a load balancer in front would do).
void run_runner(const std::string& name, ServerProcess& home, ServerProcess& other,
                const std::string& reg_token, Ledger& ledger, std::atomic<bool>& done) {
  TestRunner runner;
  try {
    runner =
        TestRunner::register_with(home, reg_token, {{"name", name}, {"max_concurrent_jobs", 4}});
  } catch (const std::exception& e) {
    std::lock_guard lock(ledger.mu);
    ledger.problems.push_back(name + " could not register: " + e.what());
    return;
  }
  bool failed_over = false;
  auto fail_over = [&] {
    if (failed_over) return false;
    failed_over = true;
    runner.api = std::make_unique<Api>(other.url(), runner.secret);
    return true;
  };
  // One protocol call; when the server is gone, the same call again on the other server.
  auto call = [&](const std::function<HttpResponse()>& fn) -> std::optional<HttpResponse> {
    for (;;) {
      try {
        return fn();
      } catch (const std::exception& e) {
        {
          std::lock_guard lock(ledger.mu);
          ledger.refused_starts.push_back(name + ": " + e.what());
        }
        if (!fail_over()) return std::nullopt;
      }
    }
  };
  while (!done) {
    auto res = call([&] {
      return runner.api->request(http::verb::post, "/api/v1/runners/" + runner.id + "/claim",
                                 json{{"wait_ms", 300}, {"slots", 4}}.dump());
    });
    if (!res || res->status != 200) {
      std::lock_guard lock(ledger.mu);
      ledger.refused_starts.push_back(name + " claim: " + (res ? res->body : "no server answers"));
      continue;
    }
    json claimed = json::parse(res->body);  // (not a temporary: the loop below iterates into it)
    for (const auto& c : claimed["jobs"]) {
      std::string id = c["job_id"];
      int attempt = c["attempt"];
      auto started = call([&] { return runner.start(id, attempt); });
      if (!started || started->status != 200) {  // e.g. its lease ran out meanwhile
        std::lock_guard lock(ledger.mu);
        ledger.refused_starts.push_back(name + " " + id + ": " +
                                        (started ? started->body : "no server answers"));
        continue;
      }
      {
        std::lock_guard lock(ledger.mu);
        ledger.started_by[id].insert(name);
      }
      auto logged = call([&] { return runner.log(id, attempt, 0, "ran on " + name + "\n"); });
      auto finished = call([&] {
        return runner.finish(id, attempt, {{"state", "succeeded"}, {"exit_code", 0}});
      });
      std::lock_guard lock(ledger.mu);
      if (!logged || logged->status != 200) {
        ledger.problems.push_back(
            name + ": log of " + id + " refused: " +
            (logged
                 ? std::to_string(logged->status) + " " + logged->body
                 : std::string(failed_over ? "no answer, also after failing over" : "no answer")));
      }
      if (finished && finished->status == 200) ++ledger.finished[id];
    }
    call([&] {
      return runner.api->request(http::verb::post, "/api/v1/runners/" + runner.id + "/heartbeat",
                                 json{{"running", json::array()}}.dump());
    });
  }
}

// Submits n jobs to its server, each with an idempotency key; when the server is gone, the
// same submit again (same key) on the other one.
void run_submitter(const std::string& prefix, int n, ServerProcess& home, ServerProcess& other,
                   const std::string& token, Ledger& ledger) {
  auto api = std::make_unique<Api>(home.url(), token);
  bool failed_over = false;
  for (int i = 0; i < n; ++i) {
    std::string key = prefix + "-" + std::to_string(i);
    for (;;) {
      try {
        auto res = api->request(http::verb::post, "/api/v1/jobs",
                                json{{"command", {"true"}}}.dump(), {{"Idempotency-Key", key}});
        std::lock_guard lock(ledger.mu);
        if (res.status == 201 || res.status == 200) {
          ledger.accepted[key] = json::parse(res.body)["id"];
        } else {
          ledger.problems.push_back("submit " + key + " -> " + std::to_string(res.status) + " " +
                                    res.body);
        }
        break;
      } catch (const std::exception&) {
        if (failed_over) {
          std::lock_guard lock(ledger.mu);
          ledger.problems.push_back("submit " + key + ": no server answers");
          break;
        }
        failed_over = true;
        api = std::make_unique<Api>(other.url(), token);
      }
    }
  }
}

TEST_F(MultiServerTest, KillingOneServerMidwayLosesNoJobAndRunsNoneTwice) {
  // CORRAL_MULTI_SERVER_JOBS makes it smaller (or larger) by hand. A sanitized server binary
  // spends several times more CPU per request: fewer jobs there keep the test about as long.
  const size_t kDefaultJobsPerServer = corral_binary_is_sanitized() ? 400 : 1500;
  const char* jobs_env = std::getenv("CORRAL_MULTI_SERVER_JOBS");
  const size_t kJobsPerServer = jobs_env ? std::stoul(jobs_env) : kDefaultJobsPerServer;
  // Short leases, so a claim whose answer died with server A comes back to the queue soon.
  auto env = server_env(
      {{"RUNNER_HEARTBEAT_TIMEOUT_MS", "3000"}, {"RUNNER_HEARTBEAT_INTERVAL_MS", "500"}});
  ServerProcess a(env), b(env);
  auto reg_token = create_token(a, "runner");
  auto user_token = create_token(a, "user");

  Ledger ledger;
  std::atomic<bool> done{false};
  std::vector<std::thread> runners;
  runners.emplace_back(run_runner, "a1", std::ref(a), std::ref(b), reg_token, std::ref(ledger),
                       std::ref(done));
  runners.emplace_back(run_runner, "a2", std::ref(a), std::ref(b), reg_token, std::ref(ledger),
                       std::ref(done));
  runners.emplace_back(run_runner, "b1", std::ref(b), std::ref(a), reg_token, std::ref(ledger),
                       std::ref(done));
  runners.emplace_back(run_runner, "b2", std::ref(b), std::ref(a), reg_token, std::ref(ledger),
                       std::ref(done));
  std::thread submit_a(run_submitter, "a", kJobsPerServer, std::ref(a), std::ref(b), user_token,
                       std::ref(ledger));
  std::thread submit_b(run_submitter, "b", kJobsPerServer, std::ref(b), std::ref(a), user_token,
                       std::ref(ledger));

  auto accepted = [&] {
    std::lock_guard lock(ledger.mu);
    return ledger.accepted.size();
  };
  ASSERT_TRUE(wait_until([&] { return accepted() >= kJobsPerServer; }, 120s));
  a.kill9();
  submit_a.join();
  submit_b.join();
  ASSERT_EQ(accepted(), 2u * kJobsPerServer)
      << (ledger.problems.empty() ? "" : ledger.problems.front());

  Api user(b.url(), user_token);
  auto count_state = [&](const std::string& state) {
    size_t n = 0;
    std::string cursor;
    do {
      auto page = user.get("/api/v1/jobs?limit=500&state=" + state +
                           (cursor.empty() ? "" : "&cursor=" + cursor));
      n += page["jobs"].size();
      cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    } while (!cursor.empty());
    return n;
  };
  bool all_done =
      wait_until([&] { return count_state("succeeded") >= 2u * kJobsPerServer; }, 180s, 250ms);
  done = true;
  for (auto& t : runners) t.join();
  std::string refused;
  for (size_t i = 0; i < std::min<size_t>(8, ledger.refused_starts.size()); ++i)
    refused += ledger.refused_starts[i] + "\n";
  ASSERT_TRUE(all_done) << refused << count_state("succeeded") << " of " << 2 * kJobsPerServer
                        << " succeeded; queued " << count_state("queued") << ", failed "
                        << count_state("failed") << ", e.g. "
                        << user.get("/api/v1/jobs?state=failed&limit=1")["jobs"].dump()
                        << "\nB: " << b.log().substr(0, 3000);

  // Every accepted job, once: as many jobs as accepted keys, all succeeded, each with
  // exactly one succeeded attempt, started by one runner and finished once.
  EXPECT_EQ(query("SELECT count(*) FROM jobs"), std::to_string(2 * kJobsPerServer));
  EXPECT_EQ(query("SELECT count(*) FROM jobs WHERE state <> 'succeeded'"), "0");
  EXPECT_EQ(query("SELECT count(*) FROM (SELECT job_id FROM attempts WHERE state = 'succeeded' "
                  "GROUP BY job_id HAVING count(*) <> 1) AS x"),
            "0");
  std::set<std::string> ids;
  std::lock_guard lock(ledger.mu);
  for (const auto& [key, id] : ledger.accepted) ids.insert(id);
  EXPECT_EQ(ids.size(), 2u * kJobsPerServer) << "two keys named one job";
  for (const auto& id : ids) {
    EXPECT_EQ(ledger.started_by[id].size(), 1u) << id << " started by several runners";
    EXPECT_LE(ledger.finished[id], 1) << id << " finished twice";
  }
  EXPECT_TRUE(ledger.problems.empty()) << ledger.problems.front();
}

}  // namespace
}  // namespace corral::testing

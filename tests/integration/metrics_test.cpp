// Prometheus metrics of the real server (GET /metrics) and of a real `corral runner`
// (RUNNER_METRICS_LISTEN) after jobs ran through the Podman engine, checked by value and by
// Prometheus' own `promtool check metrics` (Debian's prometheus package).
#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "harness.h"
#include "runner/workspace.h"
#include "store/sqlite/db.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// The value of the sample whose line starts with `series` (name and labels exactly as the
// server writes them), or -1 when there is none.
double sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n')
      return std::stod(text.substr(at + series.size() + 1, text.find('\n', at) - at));
    at += series.size();
  }
  return -1;
}

// promtool's verdict on the text: its exit code and what it said.
CommandOutput promtool_check(const std::string& text, const fs::path& dir) {
  fs::path file = dir / "metrics.txt";
  std::ofstream(file) << text;
  auto out = run_command({"sh", "-c", "promtool check metrics < \"$0\"", file.string()}, {});
  if (!out.ok()) return {127, out.error().message};
  return *out;
}

std::string find_promtool() {
  auto out = run_command({"sh", "-c", "command -v promtool"}, {});
  return out.ok() && out->exit_code == 0 ? out->output : "";
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (docker_host().empty()) {
      GTEST_SKIP()
          << "DOCKER_HOST is not set: run through scripts/test.sh, which starts Podman's service";
    }
    // Not a skip: scripts/install-deps.sh installs it, and without it the format is unchecked.
    ASSERT_FALSE(find_promtool().empty())
        << "promtool is missing: scripts/install-deps.sh installs Debian's prometheus package";
    dir_ = make_temp_dir("corral-metrics");
    server_ = std::make_unique<ServerProcess>(
        std::map<std::string, std::string>{{"CORRAL_METRICS_TOKEN", kMetricsToken}});
    api_ = std::make_unique<Api>(server_->url(), server_->admin_token());
  }
  void TearDown() override {
    runner_.reset();
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string server_metrics() {
    Api metrics(server_->url(), kMetricsToken);
    auto res = metrics.request(http::verb::get, "/metrics");
    EXPECT_EQ(res.status, 200) << res.body;
    return res.body;
  }
  // The runner's metrics address, from its log line "metrics at http://HOST:PORT/metrics".
  std::string runner_metrics() {
    std::smatch m;
    std::string log;
    EXPECT_TRUE(wait_until(
        [&] {
          log = runner_->log();
          return std::regex_search(log, m, std::regex(R"(metrics at (http://[0-9.:]+)/metrics)"));
        },
        10s))
        << log;
    auto endpoint = Endpoint::parse(m[1].str());
    EXPECT_TRUE(endpoint.ok());
    SyncHttpClient http(*endpoint);
    auto res = http.get("/metrics");
    EXPECT_TRUE(res.ok()) << m[1].str() << ": " << (res.ok() ? "" : res.error().message) << "\n"
                          << runner_->log();
    if (!res.ok()) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_NE(res->header("content-type").find("text/plain; version=0.0.4"), std::string::npos)
        << res->header("content-type");
    return res->body;
  }

  static constexpr const char* kMetricsToken = "metrics-secret-token";
  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<RunnerProcess> runner_;
};

TEST_F(MetricsTest, ServerAndRunnerReportWhatHappenedInPrometheusFormat) {
  runner_ = std::make_unique<RunnerProcess>(
      *server_, "metered",
      std::map<std::string, std::string>{{"RUNNER_METRICS_LISTEN", "127.0.0.1:0"},
                                         {"RUNNER_LABELS", "linux,metrics"},
                                         {"DOCKER_POOL_SIZE", "1"}});
  // Each job is submitted while the runner's claim is parked, so each is dispatched by
  // waking it (corral_dispatch_latency_seconds).
  auto parked = [&] {
    return wait_until([&] { return sample(server_metrics(), "corral_parked_claims") == 1; }, 30s);
  };
  ASSERT_TRUE(parked()) << runner_->log();
  std::string ok =
      api_->post("/api/v1/jobs", {{"script", "echo hello from a metered job"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(*api_, ok, {"succeeded", "failed"})["state"], "succeeded")
      << runner_->log();
  ASSERT_TRUE(parked()) << runner_->log();
  std::string bad = api_->post("/api/v1/jobs", {{"script", "exit 4"}}, 201)["id"];
  EXPECT_EQ(wait_for_job(*api_, bad, {"succeeded", "failed"})["state"], "failed");
  // One that no runner can take: it stays queued, with its label set.
  api_->post("/api/v1/jobs", {{"script", "true"}, {"labels", {"gpu"}}}, 201);

  // A request is counted once its answer is written, which may be just after the client has
  // read it (a sanitized run lost that race): wait for the third submit's count.
  const char* kSubmits =
      R"(corral_http_requests_total{method="POST",route="/api/v1/jobs",status="201"})";
  ASSERT_TRUE(wait_until([&] { return sample(server_metrics(), kSubmits) >= 3; }, 10s))
      << server_metrics();
  std::string text = server_metrics();
  EXPECT_EQ(sample(text, R"(corral_jobs{tenant="default",state="succeeded"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(corral_jobs{tenant="default",state="failed"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(corral_jobs{tenant="default",state="queued"})"), 1) << text;
  EXPECT_EQ(sample(text, R"(corral_queued_jobs_by_labels{tenant="default",labels="gpu"})"), 1)
      << text;
  // A job that names no group is in the group "" (any runner's).
  EXPECT_EQ(sample(text, R"(corral_group_jobs{tenant="default",group="",state="queued"})"), 1)
      << text;
  EXPECT_GE(sample(text, R"(corral_oldest_queued_job_age_seconds{tenant="default"})"), 0) << text;
  EXPECT_EQ(sample(text, R"(corral_jobs_finished_total{state="succeeded",reason="none"})"), 1)
      << text;
  EXPECT_EQ(sample(text, R"(corral_jobs_finished_total{state="failed",reason="exit_code"})"), 1)
      << text;
  EXPECT_EQ(sample(text, R"(corral_queue_wait_seconds_count)"), 2) << text;
  EXPECT_EQ(sample(text, R"(corral_dispatch_latency_seconds_count)"), 2) << text;
  // Both went to the parked claim with their submit's own store call (server/dispatch.h).
  EXPECT_EQ(sample(text, R"(corral_jobs_leased_with_submit_total)"), 2) << text;
  EXPECT_EQ(sample(text, R"(corral_claims_returned_total)"), 0) << text;
  EXPECT_GE(sample(text, R"(corral_log_bytes_total)"), 25) << text;  // "hello from a metered job\n"
  EXPECT_GE(sample(text, kSubmits), 3) << text;
  EXPECT_EQ(sample(text, R"(corral_runners{tenant="default",status="idle"})") +
                sample(text, R"(corral_runners{tenant="default",status="busy"})"),
            1)
      << text;
  EXPECT_GT(sample(text, "corral_store_operation_duration_seconds_count"), 0) << text;
  EXPECT_GE(sample(text, "corral_parked_claims"), 0) << text;
  auto checked = promtool_check(text, dir_);
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << text;

  std::string runner_text = runner_metrics();
  EXPECT_EQ(sample(runner_text,
                   R"(corral_runner_attempts_finished_total{state="succeeded",reason="none"})"),
            1)
      << runner_text;
  EXPECT_EQ(sample(runner_text,
                   R"(corral_runner_attempts_finished_total{state="failed",reason="exit_code"})"),
            1)
      << runner_text;
  EXPECT_EQ(sample(runner_text, "corral_runner_slots"), 1) << runner_text;
  EXPECT_EQ(sample(runner_text, "corral_runner_pool_size"), 1) << runner_text;
  // Both jobs had a container whose first output (or exit) was timed.
  double warm = sample(runner_text, R"(corral_runner_container_start_seconds_count{warm="true"})");
  double cold = sample(runner_text, R"(corral_runner_container_start_seconds_count{warm="false"})");
  EXPECT_EQ(std::max(warm, 0.0) + std::max(cold, 0.0), 2) << runner_text;
  EXPECT_GE(sample(runner_text, "corral_runner_log_bytes_total"), 25) << runner_text;
  checked = promtool_check(runner_text, dir_);
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << runner_text;
}

TEST_F(MetricsTest, TheMetricsTokenIsRequiredWhenSet) {
  Api anonymous(server_->url(), "");
  auto res = anonymous.request(http::verb::get, "/metrics");
  EXPECT_EQ(res.status, 401) << res.body;
  EXPECT_NE(res.body.find("--metrics-token"), std::string::npos) << res.body;
  Api wrong(server_->url(), "not-the-token");
  EXPECT_EQ(wrong.request(http::verb::get, "/metrics").status, 401);
  // An API token is not the metrics token either: metrics are for the scraper alone.
  EXPECT_EQ(api_->request(http::verb::get, "/metrics").status, 401);
  EXPECT_NE(server_metrics().find("# TYPE corral_http_requests_total counter"), std::string::npos);
}

TEST_F(MetricsTest, ABadMetricsAddressStopsTheRunnerNamingTheSetting) {
  auto out = run_corral({"runner"}, {{"RUNNER_SERVER_URL", server_->url()},
                                     {"RUNNER_TOKEN", "unused"},
                                     {"RUNNER_NAME", "bad-metrics"},
                                     {"RUNNER_EXECUTOR", "shell"},
                                     {"RUNNER_METRICS_LISTEN", "9252"}});
  EXPECT_EQ(out.exit_code, 2) << out.out << out.err;
  EXPECT_NE((out.out + out.err).find("RUNNER_METRICS_LISTEN"), std::string::npos)
      << out.out << out.err;
}

// The read-only pages have a thread pool of their own (ServerContext::read): with SQLite's
// writer held up and more writes waiting than the store has threads, the queue, a job's
// page and its explanation still answer, and every write is accepted once the writer goes on.
TEST(ReadPool, PagesAnswerWhileEveryStoreThreadWaitsOnTheWriter) {
  ServerProcess server;
  const std::string token = create_token(server, "user");
  Api user(server.url(), token);
  std::string shown = user.post("/api/v1/jobs", {{"command", {"true"}}}, 201)["id"];
  auto store_calls = [&](const std::string& pool, const std::string& state) {
    auto res = Api(server.url(), server.admin_token()).request(http::verb::get, "/metrics");
    EXPECT_EQ(res.status, 200) << res.body;
    return sample(res.body, "corral_store_calls{pool=\"" + pool + "\",state=\"" + state + "\"}");
  };
  // At rest nothing waits (a background sweep may, for a moment).
  ASSERT_TRUE(wait_until([&] { return store_calls("store", "waiting") == 0; }, 5s));

  // Another connection takes the database's write lock: the server's writer waits for it
  // (its busy timeout is 5 s), and every write queues behind that one.
  sqlite::Db blocker((server.data_dir() / "corral.db").string());
  blocker.exec("BEGIN IMMEDIATE");
  constexpr int kSubmits = 48;  // more than the server's 32 store threads
  std::atomic<int> answered{0}, accepted{0};
  std::vector<std::thread> submitters;
  for (int i = 0; i < kSubmits; ++i) {
    submitters.emplace_back([&] {
      Api client(server.url(), token);
      auto res = client.request(http::verb::post, "/api/v1/jobs", R"({"command":["true"]})");
      if (res.status == 201) ++accepted;
      ++answered;
    });
  }
  bool saturated = wait_until([&] { return store_calls("store", "waiting") > 0; }, 3s);
  // The pages, while every store thread is taken.
  auto queue = user.request(http::verb::get, "/api/v1/queue");
  auto page = user.request(http::verb::get, "/api/v1/jobs/" + shown);
  auto why = user.request(http::verb::get, "/api/v1/jobs/" + shown + "/why");
  int answered_meanwhile = answered.load();
  blocker.exec("COMMIT");
  for (auto& t : submitters) t.join();

  ASSERT_TRUE(saturated) << "the store threads were never all taken";
  EXPECT_EQ(answered_meanwhile, 0) << "a write finished while the writer was held up";
  EXPECT_EQ(queue.status, 200) << queue.body;
  EXPECT_EQ(json::parse(queue.body)["by_state"].value("queued", 0), 1) << queue.body;
  EXPECT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(why.status, 200) << why.body;
  // Nothing was lost: each waiting submit was accepted once the writer went on.
  EXPECT_EQ(accepted.load(), kSubmits);
  EXPECT_TRUE(wait_until([&] { return store_calls("store", "waiting") == 0; }, 5s));
}

// The queue's explanations need the tenant's runners. After a change to them (a runner
// registers), the server reads the list in the background without waiting for a page view,
// so the first view after a fleet registers finds it read (server/runner_snapshots.h).
TEST(RunnerListWarmup, AChangeToTheRunnersIsReadBeforeAnyPageAsks) {
  ServerProcess server;
  Api admin(server.url(), server.admin_token());
  const std::string reg = create_token(server, "runner");
  auto reads = [&](const std::string& by) {
    auto res = admin.request(http::verb::get, "/metrics");
    EXPECT_EQ(res.status, 200) << res.body;
    double n = sample(res.body, "corral_runner_list_reads_total{by=\"" + by + "\"}");
    return n < 0 ? 0.0 : n;  // a series appears with its first read
  };
  std::vector<TestRunner> runners;
  for (int i = 0; i < 3; ++i) {
    runners.push_back(TestRunner::register_with(server, reg, {{"name", "w" + std::to_string(i)}}));
  }
  // Read with no page view at all.
  ASSERT_TRUE(wait_until([&] { return reads("warmup") >= 1; }, 10s));
  EXPECT_EQ(reads("page"), 0);

  // One more runner: once its change is being read, the first page view takes that read's
  // list (waiting for it if need be) and reads none of its own.
  double before = reads("warmup");
  runners.push_back(TestRunner::register_with(server, reg, {{"name", "w3"}}));
  ASSERT_TRUE(wait_until([&] { return reads("warmup") > before; }, 10s));
  auto queue = admin.get("/api/v1/queue");
  EXPECT_EQ(queue["runners"]["idle"], 4) << queue.dump();
  EXPECT_EQ(reads("page"), 0);
}

}  // namespace
}  // namespace corral::testing

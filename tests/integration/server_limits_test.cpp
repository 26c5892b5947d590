// Server limits (issue 14, docs/security.md "Server limits") through the real binary:
// per-tenant quotas answered 429 with Retry-After, the connection cap (503), the accept
// loop backing off when the process runs out of file descriptors, live log watchers per
// job and per tenant, and parked claims per runner (one per free slot).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "harness.h"
#include "log_watcher.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

json limits_job(const std::string& name = "limited") {
  return {{"name", name}, {"command", {"true"}}};
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A bare TCP connection to the server: connects, holds the socket, speaks raw HTTP/1.1.
class RawConnection {
 public:
  explicit RawConnection(const std::string& url) {
    auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Sends GET /healthz asking the server to close afterwards; returns all it answered
  // (empty when the connection was closed without an answer or nothing came in time).
  std::string get_healthz() {
    std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
      return "";
    std::string answer;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
    return answer;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

bool healthz_ok(const std::string& url) {
  RawConnection probe(url);
  return probe.connected() && probe.get_healthz().rfind("HTTP/1.1 200", 0) == 0;
}

TEST(ServerLimits, QueuedJobsPerTenantAnswer429WithRetryAfterUntilOneFinishes) {
  ServerProcess server(std::map<std::string, std::string>{{"CORRAL_MAX_QUEUED_PER_TENANT", "3"}});
  Api user(server.url(), create_token(server, "user", "team-a"));
  Api other(server.url(), create_token(server, "user", "team-b"));
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) ids.push_back(user.post("/api/v1/jobs", limits_job(), 201)["id"]);
  auto keyed = user.request(http::verb::post, "/api/v1/jobs", limits_job().dump(),
                            {{"Idempotency-Key", "third"}});
  ASSERT_EQ(keyed.status, 201) << keyed.body;
  ids.push_back(json::parse(keyed.body)["id"]);
  auto refused = user.request(http::verb::post, "/api/v1/jobs", limits_job().dump());
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "30");
  auto error = json::parse(refused.body);
  EXPECT_EQ(error["error"]["code"], "too_many_requests");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("--max-queued-per-tenant 3"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(error["retry_after_s"], 30);
  // A repeat of an accepted submit is no new job: it is answered with the first one's.
  auto repeat = user.request(http::verb::post, "/api/v1/jobs", limits_job().dump(),
                             {{"Idempotency-Key", "third"}});
  EXPECT_EQ(repeat.status, 200) << repeat.body;
  EXPECT_EQ(json::parse(repeat.body)["id"], ids[2]);
  // Another tenant has its own quota.
  other.post("/api/v1/jobs", limits_job(), 201);
  // Leased and running jobs still count; a finished one frees its place.
  auto runner =
      TestRunner::register_with(server, create_token(server, "runner", "team-a"), {{"name", "r"}});
  auto claimed = runner.claim();
  ASSERT_EQ(claimed["jobs"].size(), 1u);
  std::string job_id = claimed["jobs"][0]["job_id"];
  ASSERT_EQ(runner.start(job_id, 1).status, 200);
  EXPECT_EQ(user.request(http::verb::post, "/api/v1/jobs", limits_job().dump()).status, 429);
  ASSERT_EQ(runner.finish(job_id, 1, {{"state", "succeeded"}, {"exit_code", 0}}).status, 200);
  user.post("/api/v1/jobs", limits_job(), 201);
  // So does a canceled one.
  EXPECT_EQ(user.request(http::verb::post, "/api/v1/jobs", limits_job().dump()).status, 429);
  std::string queued = ids[0] == job_id ? ids[1] : ids[0];
  user.post("/api/v1/jobs/" + queued + "/cancel", json::object());
  user.post("/api/v1/jobs", limits_job(), 201);
}

TEST(ServerLimits, SchedulesPerTenantAnswer429UntilOneIsDeleted) {
  ServerProcess server(
      std::map<std::string, std::string>{{"CORRAL_MAX_SCHEDULES_PER_TENANT", "2"}});
  Api user(server.url(), create_token(server, "user"));
  auto schedule = [](const std::string& name) {
    return json{{"name", name}, {"cron", "0 3 * * *"}, {"job", limits_job()}};
  };
  user.post("/api/v1/schedules", schedule("one"), 201);
  user.post("/api/v1/schedules", schedule("two"), 201);
  auto refused = user.request(http::verb::post, "/api/v1/schedules", schedule("three").dump());
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.header("retry-after"), "60");
  EXPECT_NE(refused.body.find("--max-schedules-per-tenant 2"), std::string::npos) << refused.body;
  EXPECT_EQ(user.get("/api/v1/schedules")["schedules"].size(), 2u);
  user.del("/api/v1/schedules/one");
  user.post("/api/v1/schedules", schedule("three"), 201);
}

TEST(ServerLimits, AConfigFileSetsWhatNeitherTheEnvironmentNorAFlagSets) {
  fs::path dir = make_temp_dir("corral-config");
  std::ofstream(dir / "server.yml") << "max-schedules-per-tenant: 1\n"      // a flag says 2
                                    << "CORRAL_MAX_QUEUED_PER_TENANT: 1\n"  // the environment 2
                                    << "metrics-token: from-the-file\n";    // only here
  ServerProcess server(
      std::map<std::string, std::string>{{"CORRAL_MAX_QUEUED_PER_TENANT", "2"}}, {},
      {"--config", (dir / "server.yml").string(), "--max-schedules-per-tenant", "2"});
  Api user(server.url(), create_token(server, "user"));
  for (const char* name : {"one", "two"}) {
    user.post("/api/v1/schedules", {{"name", name}, {"cron", "0 3 * * *"}, {"job", limits_job()}},
              201);
  }
  auto schedules =
      user.request(http::verb::post, "/api/v1/schedules",
                   json{{"name", "three"}, {"cron", "0 3 * * *"}, {"job", limits_job()}}.dump());
  EXPECT_EQ(schedules.status, 429);
  EXPECT_NE(schedules.body.find("--max-schedules-per-tenant 2"), std::string::npos)
      << schedules.body;
  user.post("/api/v1/jobs", limits_job(), 201);
  user.post("/api/v1/jobs", limits_job(), 201);
  auto queued = user.request(http::verb::post, "/api/v1/jobs", limits_job().dump());
  EXPECT_EQ(queued.status, 429);
  EXPECT_NE(queued.body.find("--max-queued-per-tenant 2"), std::string::npos) << queued.body;
  EXPECT_EQ(user.request(http::verb::get, "/metrics").status, 401);
  Api scraper(server.url(), "from-the-file");
  EXPECT_EQ(scraper.request(http::verb::get, "/metrics").status, 200);

  // A key that is no setting stops the server before it listens, naming the key.
  std::ofstream(dir / "typo.yml") << "max-schedules-per-tennant: 3\n";
  auto refused = run_corral({"server", "--config", (dir / "typo.yml").string(), "--data-dir",
                             (dir / "data").string(), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("unknown setting 'max-schedules-per-tennant'"), std::string::npos)
      << refused.err;
  fs::remove_all(dir);
}

TEST(ServerLimits, ConnectionsBeyondTheCapGet503WhileOpenOnesWork) {
  ServerProcess server(std::map<std::string, std::string>{{"CORRAL_MAX_CONNECTIONS", "5"}});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 5; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.url()));
    ASSERT_TRUE(idle.back()->connected());
  }
  // The server accepts in order: these five hold every place.
  RawConnection sixth(server.url());
  ASSERT_TRUE(sixth.connected());
  auto refused = sixth.get_healthz();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("--max-connections"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  // An open connection is still served (and closes after this answer, freeing its place).
  auto served = idle[0]->get_healthz();
  EXPECT_EQ(served.rfind("HTTP/1.1 200", 0), 0u) << served;
  idle[1]->close();
  EXPECT_TRUE(wait_until([&] { return healthz_ok(server.url()); }, 10s, 50ms)) << server.log();
  EXPECT_NE(server.log().find("the limit (--max-connections)"), std::string::npos) << server.log();
}

int open_descriptors(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

TEST(ServerLimits, OutOfDescriptorsTheAcceptLoopBacksOffAndRecovers) {
  ServerProcess server;
  ASSERT_TRUE(healthz_ok(server.url()));
  // Leave the server room for four more descriptors.
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(open_descriptors(server.pid()) + 4);
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &limit, nullptr), 0) << strerror(errno);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 10; ++i) held.push_back(std::make_unique<RawConnection>(server.url()));
  ASSERT_TRUE(
      wait_until([&] { return server.log().find("accept failed") != std::string::npos; }, 10s))
      << server.log();
  // A window in which a spinning accept loop would fail (and log) thousands of times.
  auto window_end = std::chrono::steady_clock::now() + 1500ms;
  wait_until([&] { return std::chrono::steady_clock::now() >= window_end; }, 5s, 50ms);
  auto log = server.log();
  // One line per episode. A descriptor the server frees meanwhile (its store, a timer) lets
  // one more connection in and ends the episode, so a second or third can start: fine. A
  // spinning loop would have logged thousands.
  EXPECT_GE(count_of(log, "accept failed"), 1u) << log;
  EXPECT_LE(count_of(log, "accept failed"), 3u) << log;
  EXPECT_NE(log.find("ulimit -n"), std::string::npos) << log;
  // Descriptors free up: the server accepts again, by itself.
  held.clear();
  EXPECT_TRUE(wait_until([&] { return healthz_ok(server.url()); }, 10s, 50ms)) << server.log();
  EXPECT_NE(server.log().find("accepting connections again"), std::string::npos) << server.log();
}

TEST(ServerLimits, LiveLogWatchersPerJobAndPerTenantAreRefusedWith429) {
  ServerProcess server(std::map<std::string, std::string>{{"CORRAL_MAX_WATCHERS_PER_JOB", "2"},
                                                          {"CORRAL_MAX_WATCHERS_PER_TENANT", "3"}});
  std::string token = create_token(server, "user", "team-a");
  std::string other_token = create_token(server, "user", "team-b");
  Api user(server.url(), token);
  Api other(server.url(), other_token);
  std::string a = user.post("/api/v1/jobs", limits_job("a"), 201)["id"];
  std::string b = user.post("/api/v1/jobs", limits_job("b"), 201)["id"];
  std::string c = user.post("/api/v1/jobs", limits_job("c"), 201)["id"];
  std::string theirs = other.post("/api/v1/jobs", limits_job("theirs"), 201)["id"];
  auto stream = [](const std::string& id) { return "/api/v1/jobs/" + id + "/logs/stream"; };
  auto first = std::make_unique<LogWatcher>(server.url(), stream(a), token);
  LogWatcher second(server.url(), stream(a), token);
  EXPECT_EQ(first->status, 101);
  EXPECT_EQ(second.status, 101);
  LogWatcher third(server.url(), stream(a), token);
  EXPECT_EQ(third.status, 429) << third.refusal;
  EXPECT_NE(third.refusal.find("--max-watchers-per-job 2"), std::string::npos) << third.refusal;
  LogWatcher on_b(server.url(), stream(b), token);
  EXPECT_EQ(on_b.status, 101) << on_b.refusal;
  LogWatcher on_c(server.url(), stream(c), token);
  EXPECT_EQ(on_c.status, 429) << on_c.refusal;
  EXPECT_NE(on_c.refusal.find("--max-watchers-per-tenant 3"), std::string::npos) << on_c.refusal;
  LogWatcher their_watcher(server.url(), stream(theirs), other_token);
  EXPECT_EQ(their_watcher.status, 101) << their_watcher.refusal;
  // A watcher that leaves frees its place.
  first.reset();
  EXPECT_TRUE(wait_until([&] { return LogWatcher(server.url(), stream(a), token).status == 101; },
                         10s, 50ms));
}

// A claim long-polling on its own connection; done once the server answered.
struct ParkedClaim {
  std::atomic<bool> done{false};
  json answer;
  std::thread thread;
  ParkedClaim(const std::string& url, const TestRunner& runner, int wait_ms) {
    thread = std::thread([this, url, id = runner.id, secret = runner.secret, wait_ms] {
      Api api(url, secret);
      answer = api.post("/api/v1/runners/" + id + "/claim", {{"wait_ms", wait_ms}});
      done = true;
    });
  }
  ~ParkedClaim() { thread.join(); }
};

TEST(ServerLimits, ARunnerParksAtMostOneClaimPerFreeSlotANewerOneSupersedesTheOldest) {
  ServerProcess server;
  Api user(server.url(), create_token(server, "user"));
  Api health(server.url(), "");
  auto parked = [&] { return health.get("/healthz")["parked_claims"].get<int>(); };
  auto runner_token = create_token(server, "runner");
  auto one = TestRunner::register_with(server, runner_token,
                                       {{"name", "one-slot"}, {"max_concurrent_jobs", 1}});
  constexpr int kLongPollMs = 30'000;  // far beyond every deadline below
  ParkedClaim first(server.url(), one, kLongPollMs);
  ASSERT_TRUE(wait_until([&] { return parked() == 1; }, 10s));
  ParkedClaim second(server.url(), one, kLongPollMs);
  // The older claim answers empty at once; the newer holds the runner's one place.
  ASSERT_TRUE(wait_until([&] { return first.done.load(); }, 10s))
      << "the superseded claim was not answered";
  EXPECT_TRUE(first.answer["jobs"].empty()) << first.answer.dump();
  ASSERT_TRUE(wait_until([&] { return parked() == 1; }, 10s));
  EXPECT_FALSE(second.done.load());
  std::string id = user.post("/api/v1/jobs", limits_job(), 201)["id"];
  ASSERT_TRUE(wait_until([&] { return second.done.load(); }, 10s));
  ASSERT_EQ(second.answer["jobs"].size(), 1u) << second.answer.dump();
  EXPECT_EQ(second.answer["jobs"][0]["job_id"], id);

  // Two free slots: two parked claims, the third supersedes the oldest.
  auto two = TestRunner::register_with(server, runner_token,
                                       {{"name", "two-slots"}, {"max_concurrent_jobs", 2}});
  ParkedClaim a(server.url(), two, kLongPollMs);
  ASSERT_TRUE(wait_until([&] { return parked() == 1; }, 10s));
  ParkedClaim b(server.url(), two, kLongPollMs);
  ASSERT_TRUE(wait_until([&] { return parked() == 2; }, 10s));
  EXPECT_FALSE(a.done.load());
  ParkedClaim c(server.url(), two, kLongPollMs);
  ASSERT_TRUE(wait_until([&] { return a.done.load(); }, 10s))
      << "the oldest claim was not superseded";
  EXPECT_TRUE(a.answer["jobs"].empty());
  EXPECT_EQ(parked(), 2);
  // Two jobs end the two claims still parked.
  user.post("/api/v1/jobs", limits_job(), 201);
  user.post("/api/v1/jobs", limits_job(), 201);
  EXPECT_TRUE(wait_until([&] { return b.done.load() && c.done.load(); }, 10s));
}

}  // namespace
}  // namespace corral::testing

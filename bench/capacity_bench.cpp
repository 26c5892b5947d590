// Capacity benchmark (issue 17): one real `corral server`, thousands of simulated runners
// parked in long-poll claims and heartbeating, a deep queue of jobs no runner can take, and
// dashboard pollers, while jobs are submitted and run.
//
//   build/capacity_bench [--runners 10000] [--queued 100000] [--seconds 15] [--rounds 2]
//                        [--pollers 10] [--poll-ms 2000] [--submitters 4] [--rate 20]
//                        [--heartbeat-ms 10000] [--store postgresql://...] [--perf FILE]
//                        [--saturated 0|1]
// (--saturated 0 runs the paced phases only: dispatch latency in half the time, without the
// throughput ratio.)
//
// Setup: Q jobs labelled `gpu-nowhere` (no runner has it) are submitted by their own user
// token (the "backlog" submitter); N runners (labels [linux], one slot each) register and
// park a claim (wait_ms 30000-60000) on a connection each, and heartbeat every --heartbeat-ms,
// spread evenly, over a pool of connections. Then, per round (ABBA order, so a drift of the
// database's size over the run falls on both sides):
//   - saturated, without / with pollers: --submitters submit unlabelled jobs back to back
//     for --seconds; the parked runners take them (claim answered -> start -> finish) and
//     park again. Submit throughput with the pollers / without is the ratio issue 17 asks.
//   - paced, without / with pollers: one job every 1/--rate s, for dispatch latency on a
//     server that is not saturated.
// Pollers: --pollers clients, each every --poll-ms, GET /api/v1/queue, then a backlog job's
// page (GET /api/v1/jobs/{id} and /why).
// Dispatch latency is from just before a submit is sent to the moment a parked runner's
// claim answer with that job arrives (the job carries its sequence number in env SEQ).
// All simulated clients are coroutines on one thread of this process (Asio), so their
// timings include this process's own scheduling; it runs on the same machine as the server.
// Two figures per phase separate the two:
//   - the server's own view, from its /metrics scraped before and after the phase:
//     corral_dispatch_latency_seconds (a submit reserving a parked claim, or an
//     announcement waking it, to that claim's answer written) and the submit's and
//     heartbeat's corral_http_request_duration_seconds, as quantiles interpolated within
//     the histogram's buckets (0.5, 1, 2.5, 5, 10, 25 ms, ...), and the share of dispatches
//     the server answered within 5 ms;
//   - this process's lag: a timer due every 5 ms, and how late it fires. An answer that
//     arrives while this thread is busy is stamped that late too.
#include <sys/resource.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <unordered_map>

#include "bench_support.h"
#include "net/http_client.h"

namespace {

using corral::awaitable;
using corral::Endpoint;
using corral::error_code;
using corral::HttpConnection;
using corral::HttpResponse;
using corral::Result;
using corral::use_awaitable;
using corral::bench::Clock;
using corral::bench::ms_between;
using corral::bench::ms_since;
using corral::bench::percentile;
namespace asio = corral::asio;
namespace http = corral::http;
namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;

struct Options {
  int runners = 10'000;
  int queued = 100'000;
  int seconds = 15;  // per measured phase
  int rounds = 2;
  int pollers = 10;
  int poll_ms = 2'000;
  int submitters = 4;
  int rate = 20;  // paced submits per second
  int heartbeat_ms = 10'000;
  int heartbeat_connections = 200;
  int saturated = 1;  // 0: the paced phases only (quicker, for dispatch latency)
  std::string store;
  std::string perf_out;
};

// One keep-alive connection, connected on first use and again after a failure.
struct Link {
  Endpoint ep;
  std::unique_ptr<HttpConnection> conn;

  awaitable<Result<HttpResponse>> call(http::verb verb, const std::string& target,
                                       const std::string& body, const std::string& token,
                                       milliseconds timeout = milliseconds(30'000)) {
    http::request<http::string_body> msg{verb, target, 11};
    msg.set(http::field::host, ep.host_header());
    msg.set(http::field::authorization, "Bearer " + token);
    if (verb == http::verb::post) {
      msg.set(http::field::content_type, "application/json");
      msg.body() = body;
      msg.prepare_payload();
    }
    msg.keep_alive(true);
    for (int round = 0;; ++round) {
      bool fresh = false;
      if (!conn || !conn->reusable()) {
        auto connected = co_await HttpConnection::connect(ep, milliseconds(20'000));
        if (!connected.ok()) co_return connected.error();
        conn = std::move(connected.value());
        fresh = true;
      }
      auto res = co_await conn->exchange(msg, timeout);
      if (!res.ok()) {
        conn.reset();
        // A reused connection the server closed meanwhile: once more on a fresh one.
        if (!fresh && round == 0 && res.error().code != corral::ErrorCode::kTimeout) continue;
      }
      co_return res;
    }
  }
};

struct Samples {
  std::vector<double> v;
  void add(double ms) { v.push_back(ms); }
  void merge(const Samples& o) { v.insert(v.end(), o.v.begin(), o.v.end()); }
  std::string summary() const {
    if (v.empty()) return "      -        -     (n=0)";
    char buf[96];
    std::snprintf(buf, sizeof buf, "%7.2f  %7.2f  (n=%zu)", percentile(v, 0.5), percentile(v, 0.99),
                  v.size());
    return buf;
  }
};

struct PhaseStats {
  std::string name;
  bool saturated = false;
  bool pollers = false;
  double seconds = 0;
  int submitted = 0;
  int errors = 0;
  int heartbeats_late = 0;  // sent more than 100 ms after their turn (this process lagged)
  double drain_ms = 0;      // after the last submit, until every job of the phase finished
  long rss_kb = 0, hwm_kb = 0;
  Samples submit, dispatch, heartbeat, queue, job, why, lag;
  // The server's histograms over the phase (/metrics after minus before).
  struct ServerView {
    std::map<double, double> dispatch, submit, heartbeat;  // upper bound (s) -> count
  } server;
  void merge(const PhaseStats& o) {
    seconds += o.seconds;
    submitted += o.submitted;
    errors += o.errors;
    heartbeats_late += o.heartbeats_late;
    submit.merge(o.submit);
    dispatch.merge(o.dispatch);
    heartbeat.merge(o.heartbeat);
    queue.merge(o.queue);
    job.merge(o.job);
    why.merge(o.why);
    lag.merge(o.lag);
    for (auto [into, from] : {std::pair{&server.dispatch, &o.server.dispatch},
                              std::pair{&server.submit, &o.server.submit},
                              std::pair{&server.heartbeat, &o.server.heartbeat}})
      for (const auto& [le, n] : *from) (*into)[le] += n;
  }
  double rate() const { return seconds > 0 ? submitted / seconds : 0; }
};

struct SimRunner {
  std::string id, secret;
  std::optional<std::pair<std::string, int>> holding;  // the attempt it runs now
};

struct Sent {
  Clock::time_point at;
  PhaseStats* phase;
};

struct Bench {
  Options opt;
  Endpoint ep;
  pid_t server_pid = -1;
  std::string admin, backlog_token, registration;
  std::vector<std::unique_ptr<SimRunner>> runners;
  std::vector<std::string> backlog_ids;  // a sample, for the job pages
  std::unordered_map<long, Sent> sent;   // submitted, not yet claimed
  long next_seq = 0;
  long accepted = 0, finished = 0;
  bool stopping = false;
  bool pollers_on = false;
  PhaseStats setup;
  PhaseStats* cur = &setup;
  int claim_errors = 0, unexpected_jobs = 0;
  std::string first_error;

  void error(const std::string& what) {
    ++cur->errors;
    if (first_error.empty()) first_error = what;
  }
};

std::string describe(const Result<HttpResponse>& res) {
  if (!res.ok()) return res.error().message;
  return std::to_string(res->status) + " " + res->body.substr(0, 300);
}

// One histogram series of a Prometheus text (GET /metrics): its cumulative bucket counts by
// upper bound in seconds (+Inf as infinity). labels: the series' labels before `le`, as
// the server prints them (`method="POST",route="/api/v1/jobs"`), or empty.
std::map<double, double> histogram_buckets(const std::string& text, const std::string& name,
                                           const std::string& labels) {
  std::map<double, double> out;
  const std::string prefix = name + "_bucket{" + (labels.empty() ? "" : labels + ",") + "le=\"";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    size_t le = at + prefix.size();
    size_t close = text.find("\"} ", le);
    if (close == std::string::npos) break;
    std::string bound = text.substr(le, close - le);
    double upper = bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(bound);
    out[upper] = std::stod(text.substr(close + 3, text.find('\n', close) - close - 3));
  }
  return out;
}

std::map<double, double> minus(std::map<double, double> after,
                               const std::map<double, double>& before) {
  for (auto& [le, n] : after)
    if (auto it = before.find(le); it != before.end()) n -= it->second;
  return after;
}

// The q-quantile in ms of cumulative buckets, interpolated within its bucket as Prometheus'
// histogram_quantile does; the last finite bound when it falls in +Inf.
double bucket_quantile_ms(const std::map<double, double>& buckets, double q) {
  if (buckets.empty() || buckets.rbegin()->second <= 0) return 0;
  double total = buckets.rbegin()->second, rank = q * total, lower = 0, below = 0;
  for (const auto& [le, n] : buckets) {
    if (n >= rank) {
      if (std::isinf(le)) return lower * 1000;
      double width = n - below;
      return 1000 * (lower + (le - lower) * (width > 0 ? (rank - below) / width : 1));
    }
    lower = le;
    below = n;
  }
  return lower * 1000;
}

// The share of the histogram's observations at or under `le` seconds (a bucket bound).
double share_within(const std::map<double, double>& buckets, double le) {
  if (buckets.empty() || buckets.rbegin()->second <= 0) return 0;
  auto it = buckets.find(le);
  return it == buckets.end() ? 0 : it->second / buckets.rbegin()->second;
}

std::string server_summary(const std::map<double, double>& buckets) {
  if (buckets.empty() || buckets.rbegin()->second <= 0) return "      -        -     (n=0)";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%7.2f  %7.2f  (n=%.0f)", bucket_quantile_ms(buckets, 0.5),
                bucket_quantile_ms(buckets, 0.99), buckets.rbegin()->second);
  return buf;
}

// JSON bodies are built in plain functions: g++ 12 miscompiles initializer lists inside
// coroutines ("array used as initializer").
json attempt_ref(const std::string& job_id, int attempt) {
  return {{"job_id", job_id}, {"attempt", attempt}};
}

// A job every runner may take; SEQ finds its submit time when a claim answers with it.
json job_spec(long seq) {
  return {{"command", {"true"}}, {"env", {{"SEQ", std::to_string(seq)}}}};
}

// A job no runner may take (no runner has the label).
std::string backlog_spec() {
  return json{{"command", {"true"}}, {"labels", {"gpu-nowhere"}}}.dump();
}

awaitable<void> sleep_until(Clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(t);
  error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

// Runs n copies of fn(i) at once and returns when all have.
template <typename F>
awaitable<void> all_of(int n, F fn) {
  auto ex = co_await asio::this_coro::executor;
  auto left = std::make_shared<int>(n);
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(ex, fn(i), [left](std::exception_ptr e) {
      --*left;
      if (e) std::rethrow_exception(e);
    });
  }
  while (*left > 0) co_await sleep_until(Clock::now() + milliseconds(5));
}

// Setup calls: a server busy with a deep queue may take long to answer, so the deadline is
// generous.
awaitable<json> must(Link& link, http::verb verb, const std::string& target,
                     const std::string& body, const std::string& token) {
  auto res = co_await link.call(verb, target, body, token, milliseconds(300'000));
  if (!res.ok() || res->status >= 300) throw std::runtime_error(target + " -> " + describe(res));
  co_return json::parse(res->body);
}

// ---- the simulated runner: claim (parked), start, finish, again.
awaitable<void> runner_loop(Bench& b, SimRunner& r) {
  Link link{b.ep, nullptr};
  const std::string claim_target = "/api/v1/runners/" + r.id + "/claim";
  // Long-polls of 30 to 60 s: runners that all parked within seconds would otherwise all
  // come back at once every minute (and a server busy with a deep queue answers that herd
  // late, which only keeps it together).
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>()(r.id)));
  while (!b.stopping) {
    std::string body = "{\"wait_ms\":" + std::to_string(30'000 + rng() % 30'001) + "}";
    auto res =
        co_await link.call(http::verb::post, claim_target, body, r.secret, milliseconds(75'000));
    auto now = Clock::now();
    if (b.stopping) break;
    if (!res.ok() || res->status != 200) {
      if (++b.claim_errors <= 3) std::fprintf(stderr, "claim: %s\n", describe(res).c_str());
      co_await sleep_until(Clock::now() + milliseconds(1'000));
      continue;
    }
    json answer = json::parse(res->body);
    json jobs = answer["jobs"];
    for (const auto& j : jobs) {
      std::string id = j["job_id"];
      int attempt = j["attempt"];
      json env = j.value("spec", json::object()).value("env", json::object());
      if (env.contains("SEQ")) {
        long seq = std::stol(env["SEQ"].get<std::string>());
        if (auto it = b.sent.find(seq); it != b.sent.end()) {
          it->second.phase->dispatch.add(ms_between(it->second.at, now));
          b.sent.erase(it);
        }
      } else {
        ++b.unexpected_jobs;  // a backlog job: no runner should match those
      }
      r.holding = std::make_pair(id, attempt);
      std::string base = "/api/v1/jobs/" + id + "/attempts/" + std::to_string(attempt);
      auto started = co_await link.call(http::verb::post, base + "/start", "", r.secret);
      if (!started.ok() || started->status != 200) b.error("start: " + describe(started));
      auto done = co_await link.call(http::verb::post, base + "/finish",
                                     R"({"state":"succeeded","exit_code":0})", r.secret);
      if (!done.ok() || done->status != 200) b.error("finish: " + describe(done));
      r.holding.reset();
      ++b.finished;
    }
  }
}

// ---- heartbeats: connection w beats for runners w, w+K, w+2K, ...; runner i's turn is at
// i/N of each period, so the N runners' beats are spread evenly over the period.
awaitable<void> heartbeat_worker(Bench& b, int w, int k, Clock::time_point t0) {
  Link link{b.ep, nullptr};
  const auto n = static_cast<int64_t>(b.runners.size());
  const milliseconds period(b.opt.heartbeat_ms);
  for (int64_t round = 0; !b.stopping; ++round) {
    for (int64_t i = w; i < n && !b.stopping; i += k) {
      auto due = t0 + period * round + period * i / n;
      co_await sleep_until(due);
      if (b.stopping) break;
      SimRunner& r = *b.runners[static_cast<size_t>(i)];
      json running = json::array();
      if (r.holding) running.push_back(attempt_ref(r.holding->first, r.holding->second));
      json report = json::object();
      report["running"] = running;
      std::string body = report.dump();
      std::string target = "/api/v1/runners/" + r.id + "/heartbeat";
      auto sent = Clock::now();
      if (sent - due > milliseconds(100)) ++b.cur->heartbeats_late;
      auto res = co_await link.call(http::verb::post, target, body, r.secret);
      if (!res.ok() || res->status != 200) {
        b.error("heartbeat: " + describe(res));
        continue;
      }
      b.cur->heartbeat.add(ms_since(sent));
    }
  }
}

// ---- a dashboard left open: the queue page and a waiting job's page, every poll_ms.
awaitable<void> poller(Bench& b, int p, Clock::time_point t0) {
  Link link{b.ep, nullptr};
  std::mt19937 rng(static_cast<unsigned>(p));
  const milliseconds interval(b.opt.poll_ms);
  auto first = t0 + interval * p / std::max(1, b.opt.pollers);
  for (int64_t k = 0; !b.stopping; ++k) {
    co_await sleep_until(first + interval * k);
    if (b.stopping) break;
    if (!b.pollers_on) continue;
    PhaseStats* st = b.cur;
    const std::string& id = b.backlog_ids[rng() % b.backlog_ids.size()];
    struct Page {
      std::string target;
      Samples* into;
    };
    std::array<Page, 3> pages;
    pages[0] = Page{"/api/v1/queue", &st->queue};
    pages[1] = Page{"/api/v1/jobs/" + id, &st->job};
    pages[2] = Page{"/api/v1/jobs/" + id + "/why", &st->why};
    for (const Page& page : pages) {
      auto t = Clock::now();
      auto res = co_await link.call(http::verb::get, page.target, "", b.admin);
      if (!res.ok() || res->status != 200) {
        b.error("GET " + page.target + ": " + describe(res));
        continue;
      }
      page.into->add(ms_since(t));
    }
  }
}

// One submit of a job the parked runners take; false when it failed.
awaitable<bool> submit_one(Bench& b, Link& link, PhaseStats& st) {
  long seq = b.next_seq++;
  json spec = job_spec(seq);
  auto t = Clock::now();
  b.sent[seq] = {t, &st};
  auto res = co_await link.call(http::verb::post, "/api/v1/jobs", spec.dump(), b.admin);
  if (!res.ok() || res->status != 201) {
    b.sent.erase(seq);
    b.error("submit: " + describe(res));
    co_return false;
  }
  st.submit.add(ms_since(t));
  ++st.submitted;
  ++b.accepted;
  co_return true;
}

struct ServerScrape {
  std::map<double, double> dispatch, submit, heartbeat;
};

awaitable<ServerScrape> scrape(Bench& b, Link& link) {
  std::string text =
      (co_await link.call(http::verb::get, "/metrics", "", b.admin, milliseconds(300'000)))
          .value()
          .body;
  ServerScrape out;
  out.dispatch = histogram_buckets(text, "corral_dispatch_latency_seconds", "");
  out.submit = histogram_buckets(text, "corral_http_request_duration_seconds",
                                 R"(method="POST",route="/api/v1/jobs")");
  out.heartbeat = histogram_buckets(text, "corral_http_request_duration_seconds",
                                    R"(method="POST",route="/api/v1/runners/{id}/heartbeat")");
  co_return out;
}

// How late this process's own loop runs: a timer due every 5 ms, until *stop.
awaitable<void> lag_probe(Samples& into, std::shared_ptr<const bool> stop) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (auto due = Clock::now() + milliseconds(5); !*stop; due += milliseconds(5)) {
    timer.expires_at(due);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    auto now = Clock::now();
    into.add(ms_between(due, now));
    if (now - due > milliseconds(5)) due = now;  // one late wake-up counts once
  }
}

awaitable<void> run_phase(Bench& b, PhaseStats& st) {
  Link metrics{b.ep, nullptr};
  ServerScrape before = co_await scrape(b, metrics);
  b.cur = &st;
  b.pollers_on = st.pollers;
  auto lag_done = std::make_shared<bool>(false);
  asio::co_spawn(co_await asio::this_coro::executor, lag_probe(st.lag, lag_done), asio::detached);
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::seconds(b.opt.seconds);
  if (st.saturated) {
    co_await all_of(b.opt.submitters, [&](int) -> awaitable<void> {
      Link link{b.ep, nullptr};
      while (Clock::now() < end) co_await submit_one(b, link, st);
    });
  } else {
    Link link{b.ep, nullptr};
    const auto gap = std::chrono::microseconds(1'000'000 / std::max(1, b.opt.rate));
    // A server slower than the pace gets fewer submits, not a longer phase.
    for (auto due = t0; due < end && Clock::now() < end; due += gap) {
      co_await sleep_until(due);
      co_await submit_one(b, link, st);
    }
  }
  st.seconds = ms_since(t0) / 1000.0;
  auto drain0 = Clock::now();
  while (b.finished < b.accepted && ms_since(drain0) < 120'000)
    co_await sleep_until(Clock::now() + milliseconds(5));
  st.drain_ms = ms_since(drain0);
  b.pollers_on = false;
  *lag_done = true;
  ServerScrape after = co_await scrape(b, metrics);
  st.server.dispatch = minus(after.dispatch, before.dispatch);
  st.server.submit = minus(after.submit, before.submit);
  st.server.heartbeat = minus(after.heartbeat, before.heartbeat);
  st.rss_kb = corral::bench::proc_status_kb(b.server_pid, "VmRSS");
  st.hwm_kb = corral::bench::proc_status_kb(b.server_pid, "VmHWM");
  std::printf(
      "%-24s %6.0f submits/s  submit p50/p99 %s  dispatch %s  heartbeat %s  queue %s  job %s  "
      "why %s  drain %.0f ms  RSS %ld MB  errors %d  late heartbeats %d\n",
      st.name.c_str(), st.rate(), st.submit.summary().c_str(), st.dispatch.summary().c_str(),
      st.heartbeat.summary().c_str(), st.queue.summary().c_str(), st.job.summary().c_str(),
      st.why.summary().c_str(), st.drain_ms, st.rss_kb / 1024, st.errors, st.heartbeats_late);
  std::printf(
      "%-24s server's view: dispatch %s (%.1f%% within 5 ms)  submit %s  heartbeat %s;  "
      "this process's lag %s\n",
      "", server_summary(st.server.dispatch).c_str(), 100 * share_within(st.server.dispatch, 0.005),
      server_summary(st.server.submit).c_str(), server_summary(st.server.heartbeat).c_str(),
      st.lag.summary().c_str());
  std::fflush(stdout);
  // Between phases: a breath, so that one phase's tail does not fall into the next.
  co_await sleep_until(Clock::now() + milliseconds(500));
}

int parked_claims(const json& health) {
  return health.value("parked_claims", 0);
}

void print_goal(const char* what, double value, const char* unit, double goal, bool at_most) {
  bool met = at_most ? value <= goal : value >= goal;
  std::printf("  %-44s %10.2f %-5s goal %s %g %s: %s\n", what, value, unit,
              at_most ? "<=" : ">=", goal, unit, met ? "met" : "MISSED");
}

awaitable<void> main_flow(Bench& b, std::deque<PhaseStats>& phases) {
  auto ex = co_await asio::this_coro::executor;
  Link admin{b.ep, nullptr};
  json made = co_await must(admin, http::verb::post, "/api/v1/tokens",
                            R"({"kind":"runner","name":"capacity"})", b.admin);
  b.registration = made["token"].get<std::string>();
  made = co_await must(admin, http::verb::post, "/api/v1/tokens",
                       R"({"kind":"user","name":"backlog"})", b.admin);
  b.backlog_token = made["token"].get<std::string>();

  // The deep queue: jobs no runner can take, from their own submitter, in batch submits of
  // kBacklogBatch (POST /api/v1/jobs/batch).
  constexpr int kBacklogBatch = 500;
  auto t0 = Clock::now();
  int next = 0;
  co_await all_of(4, [&](int) -> awaitable<void> {
    Link link{b.ep, nullptr};
    const json spec = json::parse(backlog_spec());
    while (next < b.opt.queued) {
      int from = next;
      int n = std::min(kBacklogBatch, b.opt.queued - from);
      next += n;
      json batch = {{"jobs", json(std::vector<json>(n, spec))}};
      auto made = co_await must(link, http::verb::post, "/api/v1/jobs/batch", batch.dump(),
                                b.backlog_token);
      for (int k = 0; k < n; ++k) {
        if ((from + k) % std::max(1, b.opt.queued / 1000) == 0)
          b.backlog_ids.push_back(made["jobs"][k]["id"].get<std::string>());
      }
    }
  });
  if (b.backlog_ids.empty()) b.backlog_ids.push_back("job_none");
  double preload_s = ms_since(t0) / 1000;
  std::printf("setup: %d backlog jobs (label gpu-nowhere) submitted in %.1f s (%.0f/s)\n",
              b.opt.queued, preload_s, b.opt.queued / std::max(preload_s, 1e-9));

  // The runners: register (32 at a time), then all park their claims (registering while
  // thousands of claims are being parked would wait behind them).
  t0 = Clock::now();
  for (int i = 0; i < b.opt.runners; ++i) b.runners.push_back(std::make_unique<SimRunner>());
  next = 0;
  co_await all_of(32, [&](int) -> awaitable<void> {
    Link link{b.ep, nullptr};
    while (next < b.opt.runners) {
      int i = next++;
      json registration = json::object();
      registration["name"] = "cap-" + std::to_string(i);
      registration["labels"] = json::array({"linux"});
      registration["max_concurrent_jobs"] = 1;
      std::string body = registration.dump();
      auto reg =
          co_await must(link, http::verb::post, "/api/v1/runners/register", body, b.registration);
      SimRunner& r = *b.runners[static_cast<size_t>(i)];
      r.id = reg["runner_id"].get<std::string>();
      r.secret = reg["secret"].get<std::string>();
    }
  });
  double register_s = ms_since(t0) / 1000;
  std::printf("setup: %d runners registered in %.1f s (%.0f/s)\n", b.opt.runners, register_s,
              b.opt.runners / std::max(register_s, 1e-9));
  std::fflush(stdout);
  t0 = Clock::now();
  for (auto& r : b.runners) asio::co_spawn(ex, runner_loop(b, *r), asio::detached);
  int parked = 0;
  auto reported = Clock::now();
  while (ms_since(t0) < 600'000) {
    json health = co_await must(admin, http::verb::get, "/healthz", "", b.admin);
    parked = parked_claims(health);
    if (parked >= b.opt.runners) break;
    if (ms_since(reported) > 10'000) {
      reported = Clock::now();
      std::printf("setup: %d claims parked after %.0f s\n", parked, ms_since(t0) / 1000);
      std::fflush(stdout);
    }
    co_await sleep_until(Clock::now() + milliseconds(200));
  }
  double park_s = ms_since(t0) / 1000;
  std::printf("setup: %d claims parked in %.1f s (%.0f/s); server RSS %ld MB\n", parked, park_s,
              parked / std::max(park_s, 1e-9),
              corral::bench::proc_status_kb(b.server_pid, "VmRSS") / 1024);
  std::fflush(stdout);

  auto beats0 = Clock::now();
  int k = std::min(b.opt.heartbeat_connections, b.opt.runners);
  for (int w = 0; w < k; ++w) asio::co_spawn(ex, heartbeat_worker(b, w, k, beats0), asio::detached);
  for (int p = 0; p < b.opt.pollers; ++p) asio::co_spawn(ex, poller(b, p, beats0), asio::detached);
  // One heartbeat period first: every runner has beaten once before the measures begin.
  co_await sleep_until(beats0 + milliseconds(b.opt.heartbeat_ms));

  pid_t perf_pid = -1;
  if (!b.opt.perf_out.empty()) {
    // Call graphs from .eh_frame (DWARF): the build has neither frame pointers nor -g.
    std::string pid = std::to_string(b.server_pid);
    std::vector<const char*> argv = {
        "perf",        "record", "-F",        "99", "--call-graph",
        "dwarf,16384", "-p",     pid.c_str(), "-o", b.opt.perf_out.c_str(),
        nullptr};
    posix_spawnp(&perf_pid, "perf", nullptr, nullptr, const_cast<char**>(argv.data()), environ);
  }
  for (int round = 0; round < b.opt.rounds; ++round) {
    // ABBA: without pollers first in even rounds, with them first in odd ones.
    for (bool saturated : {true, false}) {
      if (saturated && !b.opt.saturated) continue;
      for (int side = 0; side < 2; ++side) {
        bool pollers = (side == 1) != (round % 2 == 1);
        PhaseStats& st = phases.emplace_back();
        st.saturated = saturated;
        st.pollers = pollers;
        st.name = std::string(saturated ? "saturated" : "paced") +
                  (pollers ? " + pollers" : "          ") + " r" + std::to_string(round + 1);
        co_await run_phase(b, st);
      }
    }
  }
  if (perf_pid > 0) {
    kill(perf_pid, SIGINT);
    waitpid(perf_pid, nullptr, 0);
  }
  b.cur = &b.setup;
  b.stopping = true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!corral::bench::parse_flags(argc, argv,
                                  {{"--runners", &o.runners},
                                   {"--queued", &o.queued},
                                   {"--seconds", &o.seconds},
                                   {"--rounds", &o.rounds},
                                   {"--pollers", &o.pollers},
                                   {"--poll-ms", &o.poll_ms},
                                   {"--submitters", &o.submitters},
                                   {"--rate", &o.rate},
                                   {"--heartbeat-ms", &o.heartbeat_ms},
                                   {"--heartbeat-connections", &o.heartbeat_connections},
                                   {"--saturated", &o.saturated}},
                                  {{"--store", &o.store}, {"--perf", &o.perf_out}}))
    return 2;
  // One descriptor per simulated runner's claim, plus heartbeats, pollers, submitters.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  rlim_t needed =
      static_cast<rlim_t>(o.runners + o.heartbeat_connections + o.pollers + o.submitters + 100);
  if (limit.rlim_cur < needed) {
    std::fprintf(stderr,
                 "the file limit is %lu (hard), this run needs about %lu: raise it (ulimit -Hn) "
                 "or run fewer --runners\n",
                 static_cast<unsigned long>(limit.rlim_cur), static_cast<unsigned long>(needed));
    return 2;
  }
  auto base = fs::temp_directory_path() / ("corral-capacity-" + std::to_string(getpid()));
  std::deque<PhaseStats> phases;
  Bench b;
  b.opt = o;
  try {
    std::unique_ptr<corral::bench::PgDatabase> db;
    if (!o.store.empty())
      db = std::make_unique<corral::bench::PgDatabase>(o.store, "corral_bench_capacity");
    std::vector<std::string> args = {"--max-queued-per-tenant", "1000000000"};
    if (o.runners + 2'000 > 20'000) {
      args.push_back("--max-connections");
      args.push_back(std::to_string(o.runners + 2'000));
    }
    corral::bench::Server server(base, db ? db->url : "", args);
    b.server_pid = server.pid;
    b.ep = *Endpoint::parse(server.url);
    b.admin = server.token;
    std::printf(
        "capacity: %d runners, %d backlog jobs, %d pollers every %d ms, %d submitters, paced "
        "%d/s, %d s per phase, %d round(s), store %s; server pid %d, file limit %lu\n",
        o.runners, o.queued, o.pollers, o.poll_ms, o.submitters, o.rate, o.seconds, o.rounds,
        o.store.empty() ? "SQLite" : "PostgreSQL", server.pid,
        static_cast<unsigned long>(limit.rlim_cur));
    std::fflush(stdout);
    asio::io_context io(1);
    std::exception_ptr failed;
    asio::co_spawn(io, main_flow(b, phases), [&](std::exception_ptr e) {
      failed = e;
      io.stop();
    });
    io.run();
    if (failed) std::rethrow_exception(failed);

    // Summary: the phases of each kind together.
    PhaseStats sat[2], paced[2];
    for (const auto& st : phases) (st.saturated ? sat : paced)[st.pollers ? 1 : 0].merge(st);
    long hwm = corral::bench::proc_status_kb(server.pid, "VmHWM");
    long rss = corral::bench::proc_status_kb(server.pid, "VmRSS");
    Samples beats, queue;
    for (auto* st : {&sat[0], &sat[1], &paced[0], &paced[1]}) beats.merge(st->heartbeat);
    queue.merge(sat[1].queue);
    queue.merge(paced[1].queue);
    double ratio = sat[0].rate() > 0 ? sat[1].rate() / sat[0].rate() : 0;
    std::printf("\nsummary (%d runners parked, %d jobs in the backlog):\n", o.runners, o.queued);
    std::printf("  server RSS %ld MB, peak (VmHWM) %ld MB\n", rss / 1024, hwm / 1024);
    std::printf("  heartbeat p50/p99 %s\n", beats.summary().c_str());
    std::printf("  dispatch p50/p99, paced, without pollers %s\n",
                paced[0].dispatch.summary().c_str());
    std::printf("  dispatch p50/p99, paced, with pollers    %s\n",
                paced[1].dispatch.summary().c_str());
    std::printf(
        "    the server's view of it                %s, %.1f%% within 5 ms; this process's "
        "lag %s\n",
        server_summary(paced[1].server.dispatch).c_str(),
        100 * share_within(paced[1].server.dispatch, 0.005), paced[1].lag.summary().c_str());
    std::printf("  dispatch p50/p99, saturated, without     %s\n",
                sat[0].dispatch.summary().c_str());
    std::printf("  dispatch p50/p99, saturated, with        %s\n",
                sat[1].dispatch.summary().c_str());
    // The job page and /why as the saturated phases saw them, or the paced ones without those.
    const PhaseStats& pages = o.saturated ? sat[1] : paced[1];
    std::printf("  queue page p50/p99 %s; job page %s; why %s\n", queue.summary().c_str(),
                pages.job.summary().c_str(), pages.why.summary().c_str());
    std::printf("  submit throughput: %.0f/s without pollers, %.0f/s with: ratio %.2f\n",
                sat[0].rate(), sat[1].rate(), ratio);
    std::printf("  errors: %d; claim errors %d; backlog jobs claimed (should be 0): %d%s%s\n",
                sat[0].errors + sat[1].errors + paced[0].errors + paced[1].errors + b.setup.errors,
                b.claim_errors, b.unexpected_jobs,
                b.first_error.empty() ? "" : "; first: ", b.first_error.c_str());
    std::printf("goals (issue 17):\n");
    print_goal("server RSS (peak)", hwm / 1024.0, "MB", 500, true);
    print_goal("heartbeat p99", percentile(beats.v, 0.99), "ms", 50, true);
    print_goal("dispatch p99 (paced, with pollers)", percentile(paced[1].dispatch.v, 0.99), "ms", 5,
               true);
    print_goal("  in the server (its histogram)",
               bucket_quantile_ms(paced[1].server.dispatch, 0.99), "ms", 5, true);
    print_goal("queue page p99", percentile(queue.v, 0.99), "ms", 20, true);
    if (o.saturated) print_goal("submit throughput with / without pollers", ratio, "x", 0.9, false);
    std::fflush(stdout);
    // The runners' claims are still parked: the server's exit ends them.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    fs::remove_all(base);
    return 1;
  }
  fs::remove_all(base);
  return 0;
}

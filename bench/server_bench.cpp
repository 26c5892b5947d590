// Server benchmark: (a) submit-to-claim latency with parked long-poll claims, (b) full
// lifecycle throughput (submit, claim, start, finish) with N simulated runners, beside
// (c) the raw ceiling of the store for the same writes, measured in the same run.
//
//   build/server_bench [--runners N] [--submitters N] [--jobs N] [--latency-samples N]
//                      [--batch N] [--minimal-answers 0|1]
//   build/server_bench --store postgresql://... [--servers N] [...]
//
// Starts the real `corral` binary (CORRAL_BINARY) on 127.0.0.1:0 in a temp dir. On SQLite
// the ceiling is the same writes straight into SQLite; with --store (PostgreSQL; each part
// gets a fresh database on that server) it is the same writes through libpq from as many
// connections as the benchmark has runners and submitters, claiming with
// FOR UPDATE SKIP LOCKED, one transaction per write. --servers N runs N servers on the
// database and spreads the runners and submitters over them. --batch N (N > 1) runs the
// lifecycle a second time with batches: N jobs per submit (POST /api/v1/jobs/batch), runners
// holding N slots that claim up to N at once and report their starts and then their
// finishes in one call each (POST /api/v1/runners/{id}/reports). The lifecycle's submitters
// send "Prefer: return=minimal" (RFC 7240: each job answered as its id and state, what a bulk
// submitter reads) unless --minimal-answers 0 (the whole job, as before session 18).
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>

#include "bench_support.h"
#include "net/http_client.h"
#include "store/postgres/pg.h"

using namespace corral;
using namespace corral::bench;
using json = nlohmann::json;

namespace {

struct Options {
  int runners = 8;
  int submitters = 4;
  int jobs = 4000;
  int latency_samples = 500;
  std::string store;  // "" = SQLite; else a PostgreSQL server URL
  int servers = 1;
  int batch = 1;            // > 1: also the batched lifecycle
  int minimal_answers = 1;  // the submitters send Prefer: return=minimal
};

json call(SyncHttpClient& c, http::verb verb, const std::string& target, const std::string& body,
          int* status = nullptr, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest req;
  req.method = verb;
  req.target = target;
  req.body = body;
  req.timeout = std::chrono::seconds(60);
  req.headers = std::move(headers);
  auto res = c.request(req);
  if (!res.ok()) throw std::runtime_error(res.error().message);
  if (status) *status = res->status;
  if (res->status >= 400)
    throw std::runtime_error(target + " -> " + std::to_string(res->status) + " " + res->body);
  return res->body.empty() ? json::object() : json::parse(res->body);
}

// A submit of the lifecycle's submitters, with Prefer: return=minimal when asked.
void submit_call(SyncHttpClient& c, const std::string& target, const std::string& body,
                 bool minimal) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (minimal) headers.emplace_back("Prefer", "return=minimal");
  call(c, http::verb::post, target, body, nullptr, std::move(headers));
}

struct SimRunner {
  std::string id, secret;
};

SimRunner register_runner(const Endpoint& ep, const std::string& reg_token, const std::string& name,
                          int slots = 1) {
  SyncHttpClient c(ep, reg_token);
  auto r = call(c, http::verb::post, "/api/v1/runners/register",
                json{{"name", name}, {"max_concurrent_jobs", slots}}.dump());
  return {r["runner_id"], r["secret"]};
}

// ---- (a) dispatch latency: one job at a time, every runner parked in a claim.
void bench_latency(const Options& o, const fs::path& base) {
  std::unique_ptr<PgDatabase> db;
  if (!o.store.empty()) db = std::make_unique<PgDatabase>(o.store, "corral_bench_latency");
  Server server(base / "latency", db ? db->url : "");
  auto ep = *Endpoint::parse(server.url);
  SyncHttpClient admin(ep, server.token);
  auto reg_token = call(admin, http::verb::post, "/api/v1/tokens",
                        R"({"kind":"runner","name":"bench"})")["token"]
                       .get<std::string>();
  std::mutex mu;
  std::unordered_map<std::string, Clock::time_point> submitted_at;
  std::vector<double> latencies;
  std::atomic<int> claimed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> runners;
  for (int i = 0; i < o.runners; ++i) {
    auto r = register_runner(ep, reg_token, "lat-" + std::to_string(i));
    runners.emplace_back([&, r] {
      SyncHttpClient c(ep, r.secret);
      while (!stop) {
        auto got =
            call(c, http::verb::post, "/api/v1/runners/" + r.id + "/claim", R"({"wait_ms":500})");
        for (const auto& j : got["jobs"]) {
          auto now = Clock::now();
          std::string id = j["job_id"];
          int attempt = j["attempt"];
          {
            std::lock_guard lock(mu);
            latencies.push_back(
                std::chrono::duration<double, std::milli>(now - submitted_at[id]).count());
          }
          std::string base_path = "/api/v1/jobs/" + id + "/attempts/" + std::to_string(attempt);
          call(c, http::verb::post, base_path + "/start", "");
          call(c, http::verb::post, base_path + "/finish",
               R"({"state":"succeeded","exit_code":0})");
          ++claimed;
        }
      }
    });
  }
  SyncHttpClient submitter(ep, server.token);
  // Warm up connections, then wait for every runner to be parked.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < o.latency_samples; ++i) {
    // Pre-register the submit time under a provisional key, then bind it to the id: the
    // claim can return before the POST's own response does.
    auto t0 = Clock::now();
    std::string id_hint;
    {
      HttpRequest req;
      req.method = http::verb::post;
      req.target = "/api/v1/jobs";
      std::lock_guard lock(mu);  // runners block on the map until the id is known
      auto res = submitter.request(HttpRequest{http::verb::post,
                                               "/api/v1/jobs",
                                               R"({"command":["true"]})",
                                               "application/json",
                                               {},
                                               std::chrono::seconds(30)});
      id_hint = json::parse(res->body)["id"];
      submitted_at[id_hint] = t0;
    }
    int want = i + 1;
    while (claimed.load() < want) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  stop = true;
  for (auto& t : runners) t.join();
  std::printf("dispatch latency (submit -> claim answered), %d runners parked, %zu samples:\n",
              o.runners, latencies.size());
  std::printf("  p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms\n",
              percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99),
              percentile(latencies, 1.0));
}

// ---- (b) full lifecycle throughput, on --servers servers (runners and submitters spread
// over them round-robin); batch > 1: batch submits, and runners of `batch` slots that report
// their starts and their finishes in one call each.
double bench_throughput(const Options& o, const fs::path& base, int batch) {
  const std::string name = "throughput_" + std::to_string(batch);
  std::unique_ptr<PgDatabase> db;
  if (!o.store.empty()) db = std::make_unique<PgDatabase>(o.store, "corral_bench_" + name);
  std::vector<std::unique_ptr<Server>> servers;
  for (int i = 0; i < std::max(1, o.servers); ++i) {
    servers.push_back(
        std::make_unique<Server>(base / (name + "-" + std::to_string(i)), db ? db->url : ""));
  }
  auto endpoint = [&](int i) { return *Endpoint::parse(servers[i % servers.size()]->url); };
  const std::string admin_token = servers[0]->token;
  SyncHttpClient admin(endpoint(0), admin_token);
  auto reg_token = call(admin, http::verb::post, "/api/v1/tokens",
                        R"({"kind":"runner","name":"bench"})")["token"]
                       .get<std::string>();
  std::atomic<int> finished{0}, submitted{0};
  std::vector<SimRunner> sims;
  for (int i = 0; i < o.runners; ++i)
    sims.push_back(register_runner(endpoint(i), reg_token, "tp-" + std::to_string(i), batch));
  auto server_cpu = [&] {
    double sum = 0;
    for (const auto& server : servers) sum += proc_cpu_seconds(server->pid);
    return sum;
  };
  const double cpu0 = server_cpu();
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < o.runners; ++i) {
    threads.emplace_back([&, i, r = sims[i]] {
      SyncHttpClient c(endpoint(i), r.secret);
      const std::string claim = json{{"slots", batch}, {"wait_ms", 200}}.dump();
      while (finished.load() < o.jobs) {
        auto got = call(c, http::verb::post, "/api/v1/runners/" + r.id + "/claim", claim);
        if (batch > 1 && !got["jobs"].empty()) {
          json starts = json::array(), finishes = json::array();
          for (const auto& j : got["jobs"]) {
            starts.push_back({{"job_id", j["job_id"]}, {"attempt", j["attempt"]}});
            finishes.push_back({{"job_id", j["job_id"]},
                                {"attempt", j["attempt"]},
                                {"state", "succeeded"},
                                {"exit_code", 0}});
          }
          const std::string reports = "/api/v1/runners/" + r.id + "/reports";
          // Every item must have gone through: a refused one answers its own status.
          for (const auto& [kind, items] : {std::pair{"start", starts}, {"finish", finishes}}) {
            auto answer = call(c, http::verb::post, reports, json{{kind, items}}.dump());
            for (const auto& item : answer[kind]) {
              if (item["status"] != 200) throw std::runtime_error("report refused: " + item.dump());
            }
          }
          finished += static_cast<int>(finishes.size());
          continue;
        }
        for (const auto& j : got["jobs"]) {
          std::string path = "/api/v1/jobs/" + j["job_id"].get<std::string>() + "/attempts/" +
                             std::to_string(j["attempt"].get<int>());
          call(c, http::verb::post, path + "/start", "");
          call(c, http::verb::post, path + "/finish", R"({"state":"succeeded","exit_code":0})");
          ++finished;
        }
      }
    });
  }
  for (int s = 0; s < o.submitters; ++s) {
    threads.emplace_back([&, s] {
      SyncHttpClient c(endpoint(s), admin_token);
      if (batch <= 1) {
        while (submitted.fetch_add(1) < o.jobs)
          submit_call(c, "/api/v1/jobs", R"({"command":["true"]})", o.minimal_answers != 0);
        return;
      }
      for (int from; (from = submitted.fetch_add(batch)) < o.jobs;) {
        json jobs = json::array();
        for (int k = from; k < std::min(o.jobs, from + batch); ++k)
          jobs.push_back({{"command", {"true"}}});
        submit_call(c, "/api/v1/jobs/batch", json{{"jobs", jobs}}.dump(), o.minimal_answers != 0);
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = ms_since(t0) / 1000.0;
  double rate = o.jobs / secs;
  // The servers' CPU per job: steadier than the rate on a shared machine, and what a change
  // to the server's own work moves.
  double cpu_us = (server_cpu() - cpu0) * 1e6 / o.jobs;
  std::printf(
      "full lifecycle (submit, claim, start, finish): %d jobs, %d runners, %d submitters, %zu "
      "server(s), %s: %.2f s = %.0f jobs/s, server CPU %.0f us/job\n",
      o.jobs, o.runners, o.submitters, servers.size(),
      batch > 1 ? ("batches of " + std::to_string(batch)).c_str() : "one job per request", secs,
      rate, cpu_us);
  return rate;
}

// ---- (c') raw PostgreSQL: the same durable writes per job through libpq, one transaction
// per write, from as many connections as the benchmark has submitters and runners; runners
// claim with FOR UPDATE SKIP LOCKED.
double bench_raw_postgres(const Options& o) {
  PgDatabase db(o.store, "corral_bench_raw");
  {
    auto c = pg::Connection::open(db.url);
    if (!c.ok()) throw std::runtime_error(c.error().message);
    (*c)->exec_script(
        "CREATE TABLE jobs (seq BIGSERIAL PRIMARY KEY, id TEXT UNIQUE, spec TEXT, state TEXT, "
        "attempt INT, updated_at BIGINT);"
        "CREATE INDEX jobs_queued ON jobs (seq) WHERE state = 'queued';"
        "CREATE TABLE attempts (job_id TEXT, attempt INT, runner_id TEXT, state TEXT, PRIMARY KEY "
        "(job_id, attempt));");
  }
  const std::string spec = R"({"command":["true"],"env":{},"labels":[],"resources":{}})";
  std::atomic<int> submitted{0}, finished{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int s = 0; s < o.submitters; ++s) {
    threads.emplace_back([&] {
      auto c = pg::Connection::open(db.url);
      for (int i; (i = submitted.fetch_add(1)) < o.jobs;) {
        (*c)->query(
            "INSERT INTO jobs (id, spec, state, attempt, updated_at) VALUES ($1, $2, 'queued', 0, "
            "1)",
            "job_" + std::to_string(i), spec);
      }
    });
  }
  for (int r = 0; r < o.runners; ++r) {
    threads.emplace_back([&, r] {
      auto c = pg::Connection::open(db.url);
      std::string runner = "r" + std::to_string(r);
      while (finished.load() < o.jobs) {
        (*c)->exec("BEGIN");
        auto rows = (*c)->query(
            "UPDATE jobs SET state = 'leased', attempt = 1 WHERE seq = (SELECT seq FROM jobs WHERE "
            "state = 'queued'"
            " ORDER BY seq FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id");
        if (rows.empty()) {
          (*c)->exec("COMMIT");
          std::this_thread::sleep_for(
              std::chrono::microseconds(200));  // the raw loop polls; corral parks
          continue;
        }
        std::string id = rows.front().text(0);
        (*c)->query("INSERT INTO attempts VALUES ($1, 1, $2, 'leased')", id, runner);
        (*c)->exec("COMMIT");
        (*c)->query("UPDATE attempts SET state = 'running' WHERE job_id = $1 AND attempt = 1", id);
        (*c)->exec("BEGIN");
        (*c)->query("UPDATE attempts SET state = 'succeeded' WHERE job_id = $1 AND attempt = 1",
                    id);
        (*c)->query("UPDATE jobs SET state = 'succeeded' WHERE id = $1", id);
        (*c)->exec("COMMIT");
        ++finished;
      }
    });
  }
  for (auto& t : threads) t.join();
  double rate = o.jobs / (ms_since(t0) / 1000.0);
  std::printf(
      "raw PostgreSQL ceiling, same writes, one transaction each, SKIP LOCKED claims, %d+%d "
      "connections: %.0f jobs/s\n",
      o.submitters, o.runners, rate);
  return rate;
}

// ---- (c) raw SQLite: the same four durable writes per job, one transaction each, WAL +
// synchronous=FULL, no HTTP, no server; and the same with 100 jobs per transaction.
double bench_raw_sqlite(const fs::path& base, int jobs, int jobs_per_tx) {
  fs::create_directories(base);
  auto path = base / ("raw-" + std::to_string(jobs_per_tx) + ".db");
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, spec TEXT, state TEXT, "
               "attempt INT, updated_at INT);"
               "CREATE TABLE attempts (job_id TEXT, attempt INT, runner_id TEXT, state TEXT, "
               "PRIMARY KEY (job_id, attempt));",
               nullptr, nullptr, nullptr);
  auto exec = [&](const std::string& sql) {
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  };
  auto t0 = Clock::now();
  const char* spec = R"({"command":["true"],"env":{},"labels":[],"resources":{}})";
  for (int start = 0; start < jobs; start += jobs_per_tx) {
    int end = std::min(jobs, start + jobs_per_tx);
    // Four phases as the server does them: submit, claim, start, finish.
    for (int phase = 0; phase < 4; ++phase) {
      exec("BEGIN IMMEDIATE");
      for (int i = start; i < end; ++i) {
        std::string id = "job_" + std::to_string(i);
        if (phase == 0)
          exec("INSERT INTO jobs (id, spec, state, attempt, updated_at) VALUES ('" + id + "', '" +
               spec + "', 'queued', 0, 1)");
        if (phase == 1) {
          exec("UPDATE jobs SET state='leased', attempt=1 WHERE id='" + id + "'");
          exec("INSERT INTO attempts VALUES ('" + id + "', 1, 'r', 'leased')");
        }
        if (phase == 2)
          exec("UPDATE attempts SET state='running' WHERE job_id='" + id + "' AND attempt=1");
        if (phase == 3) {
          exec("UPDATE attempts SET state='succeeded' WHERE job_id='" + id + "' AND attempt=1");
          exec("UPDATE jobs SET state='succeeded' WHERE id='" + id + "'");
        }
        if (jobs_per_tx == 1 && i + 1 < end) {
          exec("COMMIT");
          exec("BEGIN IMMEDIATE");
        }
      }
      exec("COMMIT");
    }
  }
  double rate = jobs / (ms_since(t0) / 1000.0);
  sqlite3_close(db);
  std::printf("raw SQLite ceiling, same writes, %d job(s) per transaction: %.0f jobs/s\n",
              jobs_per_tx, rate);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_flags(argc, argv,
                   {{"--runners", &o.runners},
                    {"--submitters", &o.submitters},
                    {"--jobs", &o.jobs},
                    {"--latency-samples", &o.latency_samples},
                    {"--servers", &o.servers},
                    {"--batch", &o.batch},
                    {"--minimal-answers", &o.minimal_answers}},
                   {{"--store", &o.store}}))
    return 2;
  auto base = fs::temp_directory_path() / ("corral-bench-" + std::to_string(getpid()));
  try {
    bench_latency(o, base);
    double served = bench_throughput(o, base, 1);
    double batched = o.batch > 1 ? bench_throughput(o, base, o.batch) : 0;
    auto print_batched = [&](const char* baseline, double raw) {
      if (o.batch <= 1) return;
      std::printf("ratio: batches of %d / one job per request = %.2f;  batches / %s = %.2f\n",
                  o.batch, batched / served, baseline, batched / raw);
    };
    if (!o.store.empty()) {
      double raw = bench_raw_postgres(o);
      std::printf("ratio: corral / raw PostgreSQL (SKIP LOCKED, 1 write per tx) = %.2f\n",
                  served / raw);
      print_batched("raw PostgreSQL", raw);
    } else {
      double raw1 = bench_raw_sqlite(base, std::min(o.jobs, 2000), 1);
      double raw100 = bench_raw_sqlite(base, o.jobs, 100);
      std::printf(
          "ratio: corral / raw (1 job per tx) = %.2f;  corral / raw (100 jobs per tx) = %.2f\n",
          served / raw1, served / raw100);
      print_batched("raw (1 job per tx)", raw1);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    fs::remove_all(base);
    return 1;
  }
  fs::remove_all(base);
  return 0;
}

// The server's Prometheus metrics (GET /metrics, docs/operations.md "Metrics").
//
// Two kinds of figures:
//   - kept as things happen, per server process (counters, histograms and gauges here): HTTP
//     requests, dispatch latency, queue wait, jobs and attempts finished, store call
//     latency, store calls waiting and running per thread pool, log bytes;
//   - read when scraped (gauges): jobs by tenant and state, queued and running by group,
//     queued by label set, the oldest queued job's age, runners by status, parked claims.
//     They describe the whole store, so every server sharing a database reports the same.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/metrics.h"

namespace corral {

struct ServerMetrics {
  MetricsRegistry registry;

  CounterFamily& http_requests = registry.counter(
      "corral_http_requests_total", "HTTP requests answered, by method, route pattern and status.",
      {"method", "route", "status"});
  HistogramFamily& http_duration = registry.histogram(
      "corral_http_request_duration_seconds",
      "Time from a request's arrival to its answer, by method and route pattern (claims "
      "include their long-poll).",
      {"method", "route"});
  HistogramFamily& dispatch = registry.histogram(
      "corral_dispatch_latency_seconds",
      "Time from a job's announcement (submit, requeue, schedule) waking a parked claim, "
      "or from a submit reserving it to lease the job with the submit, to that claim's "
      "answer carrying the job.");
  CounterFamily& leased_with_submit = registry.counter(
      "corral_jobs_leased_with_submit_total",
      "Jobs leased to a runner parked on this server by the submit's own store call "
      "(server/dispatch.h), with no claim of the runner's in between.");
  CounterFamily& claims_returned = registry.counter(
      "corral_claims_returned_total",
      "Jobs leased to a parked runner whose claim ended before it could answer with them "
      "(answered, hung up): queued again at once, the attempt undone.");
  HistogramFamily& queue_wait = registry.histogram(
      "corral_queue_wait_seconds",
      "Time from a job's submit (or its not-before time) to its first start, observed when "
      "the job finishes.",
      {}, {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600});
  CounterFamily& jobs_finished = registry.counter(
      "corral_jobs_finished_total",
      "Jobs that reached a final state through a runner's report, by state and the last "
      "attempt's reason.",
      {"state", "reason"});
  CounterFamily& attempts_finished =
      registry.counter("corral_attempts_finished_total",
                       "Attempts runners reported finished, by state and reason (an attempt "
                       "that failed and was retried counts here, not as a finished job).",
                       {"state", "reason"});
  CounterFamily& attempts_lost =
      registry.counter("corral_attempts_lost_total",
                       "Attempts whose lease ran out (their runner stopped heartbeating).");
  HistogramFamily& store_calls =
      registry.histogram("corral_store_operation_duration_seconds",
                         "Time one store call took on a store thread (SQLite or PostgreSQL).");
  // Store calls of each pool (ServerContext::db and ::read) now: waiting for a thread, and
  // running on one. A pool whose calls wait is saturated.
  struct PoolCalls {
    std::atomic<int64_t> waiting{0};
    std::atomic<int64_t> running{0};
  };
  PoolCalls store_pool_calls;
  PoolCalls read_pool_calls;
  CounterFamily& log_bytes =
      registry.counter("corral_log_bytes_total", "Job log bytes runners sent that the store kept.");
  CounterFamily& runner_list_reads = registry.counter(
      "corral_runner_list_reads_total",
      "Reads of a tenant's runner list for the pages that explain the queue "
      "(server/runner_snapshots.h), by what started them: a page view that found no list "
      "(\"page\", it waited for the read), a page view that found an old one (\"refresh\", in "
      "the background) or a change to the tenant's runners (\"warmup\", in the background).",
      {"by"});
};

}  // namespace corral

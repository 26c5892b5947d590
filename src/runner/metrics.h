// The runner's Prometheus metrics, served on RUNNER_METRICS_LISTEN (docs/runner.md,
// "Metrics"). Counters and histograms are kept here as attempts run; the gauges (jobs
// running, pool, repository cache and spool sizes) are read when scraped (Agent).
#pragma once

#include "common/metrics.h"

namespace corral {

struct RunnerMetrics {
  MetricsRegistry registry;

  CounterFamily& attempts_finished =
      registry.counter("corral_runner_attempts_finished_total",
                       "Attempts this runner finished, by state and reason.", {"state", "reason"});
  HistogramFamily& container_start = registry.histogram(
      "corral_runner_container_start_seconds",
      "Time from preparing an attempt's container (image, create; none for a warm one) to "
      "its first output, or its exit when it printed nothing; warm: from the pool.",
      {"warm"});
  HistogramFamily& checkout = registry.histogram(
      "corral_runner_checkout_duration_seconds",
      "Time to get an attempt's repository into its workspace, by how: clone (no cache), "
      "cache_hit, cache_fetched, cache_created, cache_rebuilt, or failed.",
      {"source"});
  CounterFamily& log_bytes = registry.counter("corral_runner_log_bytes_total",
                                              "Job output bytes this runner's attempts produced.");
};

}  // namespace corral

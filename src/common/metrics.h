// Prometheus metrics: counters and histograms kept as things happen, and the text
// exposition format (version 0.0.4) that `GET /metrics` answers with.
//
//   MetricsRegistry registry;
//   auto& requests = registry.counter("corral_http_requests_total", "HTTP requests answered.",
//                                     {"method", "route", "status"});
//   requests.add({"GET", "/api/v1/jobs", "200"});
//   MetricsText out;
//   registry.render(out);                       // the kept families
//   out.family("corral_parked_claims", "gauge", "Claims parked in a long-poll.");
//   out.sample("corral_parked_claims", {}, 3);  // figures read when scraped
//
// Families are made once, at start, and live as long as the registry (references to them
// stay valid). Updates take a short lock per family; they happen per request or per job,
// not per byte.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// The exposition text, family by family.
class MetricsText {
 public:
  // Starts a family: its # HELP and # TYPE lines. type is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line: name{labels} value.
  void sample(std::string_view name, const MetricLabels& labels, double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // label_values in the order of the label names given when the family was made.
  void add(const std::vector<std::string>& label_values, double amount = 1);
  double value(const std::vector<std::string>& label_values) const;
  void render(MetricsText& out) const;

 private:
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double> values_;
};

class HistogramFamily {
 public:
  // bounds: the buckets' upper bounds, ascending (the +Inf bucket is implied).
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void observe(const std::vector<std::string>& label_values, double value);
  uint64_t count(const std::vector<std::string>& label_values) const;
  void render(MetricsText& out) const;

 private:
  struct Series {
    std::vector<uint64_t> buckets;  // per bound, not cumulative; the last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Series> series_;
};

// Buckets for latencies in seconds: 0.5 ms to 60 s.
std::vector<double> latency_buckets();

class MetricsRegistry {
 public:
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names = {},
                             std::vector<double> bounds = latency_buckets());
  // Every family made here: the counters, then the histograms, each in the order made.
  void render(MetricsText& out) const;

 private:
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
};

// The content type of the text format.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace corral

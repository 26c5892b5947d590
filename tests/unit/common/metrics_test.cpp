#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/types.h"

namespace corral {
namespace {

std::string rendered(const MetricsRegistry& registry) {
  MetricsText out;
  registry.render(out);
  return out.text();
}

TEST(MetricsTest, CountersRenderPerLabelSetWithHelpAndType) {
  MetricsRegistry registry;
  auto& requests = registry.counter("x_requests_total", "Requests.", {"method", "status"});
  requests.add({"GET", "200"});
  requests.add({"GET", "200"}, 2);
  requests.add({"POST", "201"});
  EXPECT_EQ(requests.value({"GET", "200"}), 3);
  EXPECT_EQ(requests.value({"PUT", "200"}), 0);
  EXPECT_EQ(rendered(registry),
            "# HELP x_requests_total Requests.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{method=\"GET\",status=\"200\"} 3\n"
            "x_requests_total{method=\"POST\",status=\"201\"} 1\n");
}

TEST(MetricsTest, AFamilyWithoutLabelsShowsZeroBeforeAnything) {
  MetricsRegistry registry;
  registry.counter("x_bytes_total", "Bytes.");
  registry.histogram("x_seconds", "Seconds.", {}, {0.1, 1});
  EXPECT_EQ(rendered(registry),
            "# HELP x_bytes_total Bytes.\n# TYPE x_bytes_total counter\nx_bytes_total 0\n"
            "# HELP x_seconds Seconds.\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.1\"} 0\nx_seconds_bucket{le=\"1\"} 0\n"
            "x_seconds_bucket{le=\"+Inf\"} 0\nx_seconds_sum 0\nx_seconds_count 0\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndBoundsInclusive) {
  MetricsRegistry registry;
  auto& latency = registry.histogram("x_latency_seconds", "Latency.", {"route"}, {0.5, 1, 2});
  for (double v : {0.25, 0.5, 1.5, 3.0}) latency.observe({"/a"}, v);
  EXPECT_EQ(latency.count({"/a"}), 4u);
  std::string text = rendered(registry);
  EXPECT_NE(text.find("x_latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_latency_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_latency_seconds_bucket{route=\"/a\",le=\"2\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_latency_seconds_sum{route=\"/a\"} 5.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_latency_seconds_count{route=\"/a\"} 4\n"), std::string::npos) << text;
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsText out;
  out.family("x_gauge", "gauge", "Back\\slash and\nnewline.");
  out.sample("x_gauge", {{"name", "a \"quoted\" \\ value\nwith a newline"}}, 1.5);
  EXPECT_EQ(out.text(),
            "# HELP x_gauge Back\\\\slash and\\nnewline.\n# TYPE x_gauge gauge\n"
            "x_gauge{name=\"a \\\"quoted\\\" \\\\ value\\nwith a newline\"} 1.5\n");
}

TEST(MetricsTest, CountsFromManyThreadsAddUp) {
  MetricsRegistry registry;
  auto& counter = registry.counter("x_total", "X.", {"k"});
  auto& histogram = registry.histogram("x_seconds", "X.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        counter.add({"v"});
        histogram.observe({}, 0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value({"v"}), 40'000);
  EXPECT_EQ(histogram.count({}), 40'000u);
}

TEST(MetricsTest, ReasonLabelsAreBoundedToTheKnownReasons) {
  EXPECT_EQ(reason_label("timed_out"), "timed_out");
  EXPECT_EQ(reason_label("canceled"), "canceled");
  EXPECT_EQ(reason_label("policy"), "policy");
  EXPECT_EQ(reason_label(""), "none");
  EXPECT_EQ(reason_label("something a runner made up"), "other");
  EXPECT_EQ(reason_label(AttemptState::kFailed, ""), "exit_code");
  EXPECT_EQ(reason_label(AttemptState::kSucceeded, ""), "none");
  EXPECT_EQ(reason_label(AttemptState::kFailed, "oom_killed"), "oom_killed");
}

}  // namespace
}  // namespace corral

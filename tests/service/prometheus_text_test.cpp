#include "service/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

TEST(prometheus_text_test, families_and_samples_with_and_without_labels) {
  prometheus_text out;
  out.family("ringline_lines_total", "counter", "Lines acknowledged.");
  out.sample("ringline_lines_total", "", std::uint64_t{42});
  out.family("ringline_thread_active", "gauge", "Sessions per thread.");
  out.sample("ringline_thread_active", "thread=\"0\"", std::uint64_t{3});
  EXPECT_EQ(out.text(),
            "# HELP ringline_lines_total Lines acknowledged.\n"
            "# TYPE ringline_lines_total counter\n"
            "ringline_lines_total 42\n"
            "# HELP ringline_thread_active Sessions per thread.\n"
            "# TYPE ringline_thread_active gauge\n"
            "ringline_thread_active{thread=\"0\"} 3\n");
}

TEST(prometheus_text_test, a_histogram_has_cumulative_buckets_a_sum_and_a_count) {
  duration_histogram durations;
  durations.record(30us);   // first bucket (50 µs)
  durations.record(700us);  // 1 ms bucket
  durations.record(10s);    // only +Inf
  prometheus_text out;
  out.histogram("ringline_sink_write_seconds", "Sink write time.", durations);
  const auto& text = out.text();
  EXPECT_NE(text.find("# TYPE ringline_sink_write_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("ringline_sink_write_seconds_bucket{le=\"5e-05\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_bucket{le=\"0.001\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_bucket{le=\"2.5\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ringline_sink_write_seconds_sum 10.00073\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace ringline::service

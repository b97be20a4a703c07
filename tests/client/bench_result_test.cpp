#include "client/bench_result.hpp"

#include <string>

#include <gtest/gtest.h>

namespace ringline::client {
namespace {

TEST(bench_result_test, json_has_every_key_with_its_value) {
  bench_result result;
  result.lines = 1000;
  result.bytes_sent = 2'000'000;
  result.seconds = 2.0;
  result.errors = 3;
  result.unexpected = 4;
  result.connections = 5;
  result.latency.record(10'000);
  const auto json = format_json(result);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  for (const char* part :
       {R"("lines":1000,)", R"("seconds":2.000000,)", R"("lines_per_second":500.0,)",
        R"("mb_per_second":1.000,)", R"("connections":5,)", R"("connections_per_second":2.5,)",
        R"("p50_us":10.)", R"("p90_us":)", R"("p99_us":)", R"("p999_us":)", R"("max_us":10.00,)",
        R"("errors":3,)", R"("unexpected":4})"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << " missing from " << json;
  }
}

TEST(bench_result_test, merge_adds_counts_and_keeps_the_longer_time) {
  bench_result first;
  first.lines = 10;
  first.errors = 1;
  first.seconds = 1.5;
  first.latency.record(5);
  bench_result second;
  second.lines = 20;
  second.unexpected = 2;
  second.bytes_sent = 7;
  second.seconds = 2.5;
  second.connections = 3;
  second.latency.record(9);
  first.connections = 4;
  first.merge(second);
  EXPECT_EQ(first.connections, 7U);
  EXPECT_EQ(first.lines, 30U);
  EXPECT_EQ(first.errors, 1U);
  EXPECT_EQ(first.unexpected, 2U);
  EXPECT_EQ(first.bytes_sent, 7U);
  EXPECT_DOUBLE_EQ(first.seconds, 2.5);
  EXPECT_EQ(first.latency.count(), 2U);
  EXPECT_EQ(first.latency.max(), 9U);
}

}  // namespace
}  // namespace ringline::client

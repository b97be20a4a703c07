#include "client/bench_result.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace ringline::client {

namespace {

double per_second(double amount, double seconds) {
  return seconds > 0 ? amount / seconds : 0.0;
}

double microseconds(std::uint64_t nanoseconds) {
  return static_cast<double>(nanoseconds) / 1000.0;
}

}  // namespace

void bench_result::merge(const bench_result& other) noexcept {
  lines += other.lines;
  bytes_sent += other.bytes_sent;
  errors += other.errors;
  unexpected += other.unexpected;
  connections += other.connections;
  seconds = std::max(seconds, other.seconds);
  latency.merge(other.latency);
}

std::string format_json(const bench_result& result) {
  const auto& latency = result.latency;
  return fmt::format(
      R"({{"lines":{},"seconds":{:.6f},"lines_per_second":{:.1f},"mb_per_second":{:.3f},)"
      R"("connections":{},"connections_per_second":{:.1f},)"
      R"("p50_us":{:.2f},"p90_us":{:.2f},"p99_us":{:.2f},"p999_us":{:.2f},"max_us":{:.2f},)"
      R"("errors":{},"unexpected":{}}})",
      result.lines, result.seconds, per_second(static_cast<double>(result.lines), result.seconds),
      per_second(static_cast<double>(result.bytes_sent) / 1e6, result.seconds), result.connections,
      per_second(static_cast<double>(result.connections), result.seconds),
      microseconds(latency.value_at(0.50)), microseconds(latency.value_at(0.90)),
      microseconds(latency.value_at(0.99)), microseconds(latency.value_at(0.999)),
      microseconds(latency.max()), result.errors, result.unexpected);
}

std::string format_table(const bench_result& result) {
  const auto& latency = result.latency;
  std::string text =
      fmt::format("lines       {} in {:.3f} s: {:.0f} lines/s, {:.2f} MB/s sent\n", result.lines,
                  result.seconds, per_second(static_cast<double>(result.lines), result.seconds),
                  per_second(static_cast<double>(result.bytes_sent) / 1e6, result.seconds));
  text += fmt::format("connections {}: {:.0f} connections/s\n", result.connections,
                      per_second(static_cast<double>(result.connections), result.seconds));
  text += fmt::format("latency us  p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}\n",
                      microseconds(latency.value_at(0.50)), microseconds(latency.value_at(0.90)),
                      microseconds(latency.value_at(0.99)), microseconds(latency.value_at(0.999)),
                      microseconds(latency.max()));
  text += fmt::format("errors      {}\nunexpected  {}\n", result.errors, result.unexpected);
  return text;
}

}  // namespace ringline::client

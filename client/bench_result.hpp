#pragma once

#include <cstdint>
#include <string>

#include "client/latency_histogram.hpp"

namespace ringline::client {

/// What a load run measured: one per worker thread while it runs, merged into one after.
struct bench_result {
  /// Requests answered by a reply line (expected or not).
  std::uint64_t lines = 0;
  /// Bytes of request lines sent, terminators included.
  std::uint64_t bytes_sent = 0;
  /// Connections that could not be made or were lost (reset, closed, send failed).
  std::uint64_t errors = 0;
  /// Reply lines other than the expected greeting or ack (ringline servers only).
  std::uint64_t unexpected = 0;
  /// Connections made (connected, and greeted when a greeting is expected): the first ones
  /// and every reconnection of --lines-per-connection.
  std::uint64_t connections = 0;
  /// Measured time: from the moment every connection was ready to the last reply.
  double seconds = 0;
  /// Latency of each answered request, send to reply, in nanoseconds.
  latency_histogram latency;

  /// Adds `other`'s counts and latencies; `seconds` becomes the longer of the two.
  void merge(const bench_result& other) noexcept;
};

/// Returns `result` as one JSON object on one line, without a newline: lines, seconds,
/// lines_per_second, mb_per_second (bytes sent, 10^6 bytes), connections,
/// connections_per_second, p50_us, p90_us, p99_us, p999_us, max_us, errors, unexpected.
[[nodiscard]] std::string format_json(const bench_result& result);

/// Returns `result` as a short table for people, ending with a newline.
[[nodiscard]] std::string format_table(const bench_result& result);

}  // namespace ringline::client

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "service/metrics_endpoint.hpp"
#include "service/process_metrics.hpp"
#include "service/sink_metrics.hpp"
#include "service/stats.hpp"

namespace ringline::service {

/// Everything /metrics shows, gathered on the main thread at the time of a scrape.
struct metrics_view {
  stats total;                 ///< summed over every thread
  std::vector<stats> threads;  ///< per thread, thread 0 first
  const sink_metrics* sink = nullptr;
  bool sink_failing = false;
  bool draining = false;
  std::uint64_t log_dropped_lines = 0;
  std::uint64_t metrics_evicted = 0;  ///< metrics connections closed to make room
  std::string_view version;           ///< ringline_build_info{version}
  std::string_view backend;           ///< ringline_build_info{backend}
  process_metrics process;
};

/// Returns the metrics in the Prometheus text format: counters of connections, lines, bytes
/// and session endings by reason; per-thread series for what spreads over threads; the
/// sink's writes and flushes with latency histograms; the server's state; the build; and
/// the standard `process_*` metrics.
std::string render_metrics(const metrics_view& view);

/// Returns /health's answer: 200 while accepting with a working sink, 503 while draining or
/// while the sink is failing.
health_report judge_health(bool draining, std::error_code sink_failure);

/// What /ready weighs: whether a new client sent here now would be served.
struct readiness_inputs {
  bool draining = false;
  std::error_code sink_failure;
  std::size_t active = 0;           ///< sessions open on all threads
  std::size_t max_connections = 0;  ///< --max-connections
};

/// Returns /ready's answer: 503 while /health is 503, and while every connection slot is
/// taken (a new client would get `not connect`); 200 `ready` otherwise.
health_report judge_ready(const readiness_inputs& inputs);

}  // namespace ringline::service

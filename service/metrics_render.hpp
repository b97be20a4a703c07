#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "service/metrics_endpoint.hpp"
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
};

/// Returns the metrics in the Prometheus text format: counters of connections, lines, bytes
/// and session endings by reason; per-thread series for what spreads over threads; the
/// sink's writes and flushes with latency histograms; and the server's state.
std::string render_metrics(const metrics_view& view);

/// Returns /health's answer: 200 while accepting with a working sink, 503 while draining or
/// while the sink is failing.
health_report judge_health(bool draining, std::error_code sink_failure);

}  // namespace ringline::service

#pragma once

#include <cstdint>

#include "service/duration_histogram.hpp"

namespace ringline::service {

/// What the sink's writer did, for /metrics. Kept by the writer's thread (the main one),
/// which is also where the metrics endpoint reads it.
struct sink_metrics {
  std::uint64_t writes = 0;  ///< write calls that completed (each covers many lines)
  std::uint64_t bytes = 0;   ///< bytes written
  std::uint64_t flushes =
      0;  ///< flushes that completed (--durable): synced writes, or fdatasync calls
  std::uint64_t failures = 0;     ///< writes or flushes that failed
  std::uint64_t recoveries = 0;   ///< times a failing file sink had room again
  duration_histogram write_time;  ///< from the write's submission to its completion
  duration_histogram flush_time;  ///< the same for flushes (a synced write's whole time)
};

}  // namespace ringline::service

#include "service/stats.hpp"

#include <fmt/format.h>

namespace ringline::service {

std::string stats::summary() const {
  return fmt::format(
      "stats: accepted={} refused={} active={} lines={} bytes={} errors: line_too_long={} "
      "idle_timeout={} line_timeout={} stalled={} reset={} sink={} accept={} internal={} "
      "forced={}",
      accepted, refused, active, lines, bytes, line_too_long, idle_timeouts, line_timeouts, stalled,
      resets, sink_errors, accept_errors, internal_errors, forced_closes);
}

}  // namespace ringline::service

#include "service/stats.hpp"

#include <fmt/format.h>

namespace ringline::service {

std::string stats::summary() const {
  return fmt::format(
      "stats: accepted={} refused={} active={} lines={} bytes={} errors: line_too_long={} "
      "idle_timeout={} line_timeout={} stalled={} reset={} sink={} accept={}",
      accepted, refused, active, lines, bytes, line_too_long, idle_timeouts, line_timeouts, stalled,
      resets, sink_errors, accept_errors);
}

}  // namespace ringline::service

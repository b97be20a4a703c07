#include "service/stats.hpp"

#include <fmt/format.h>

namespace ringline::service {

stats& stats::operator+=(const stats& other) noexcept {
  accepted += other.accepted;
  refused += other.refused;
  refused_per_ip += other.refused_per_ip;
  active += other.active;
  lines += other.lines;
  bytes += other.bytes;
  line_too_long += other.line_too_long;
  idle_timeouts += other.idle_timeouts;
  line_timeouts += other.line_timeouts;
  stalled += other.stalled;
  resets += other.resets;
  sink_errors += other.sink_errors;
  accept_errors += other.accept_errors;
  forced_closes += other.forced_closes;
  internal_errors += other.internal_errors;
  lines_received += other.lines_received;
  proxy_errors += other.proxy_errors;
  return *this;
}

std::string stats::summary() const {
  return fmt::format(
      "stats: accepted={} refused={} active={} lines={} bytes={} errors: line_too_long={} "
      "idle_timeout={} line_timeout={} stalled={} reset={} sink={} accept={} internal={} "
      "forced={} proxy_errors={} refused_per_ip={}",
      accepted.load(), refused.load(), active.load(), lines.load(), bytes.load(),
      line_too_long.load(), idle_timeouts.load(), line_timeouts.load(), stalled.load(),
      resets.load(), sink_errors.load(), accept_errors.load(), internal_errors.load(),
      forced_closes.load(), proxy_errors.load(), refused_per_ip.load());
}

}  // namespace ringline::service

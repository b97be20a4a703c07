#include "service/read_limit.hpp"

namespace ringline::service {

read_limit next_read_limit(const config& settings,
                           std::optional<std::chrono::steady_clock::time_point> line_start,
                           std::chrono::steady_clock::time_point now) {
  const read_limit idle{settings.idle_timeout, ending::idle_timeout};
  if (!line_start || settings.line_timeout.count() == 0) {
    return idle;
  }
  const auto left = *line_start + settings.line_timeout - now;
  if (idle.wait.count() == 0 || left < idle.wait) {
    return {left, ending::line_timeout};
  }
  return idle;
}

}  // namespace ringline::service

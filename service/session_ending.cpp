#include "service/session_ending.hpp"

namespace ringline::service {

std::string_view describe(ending why) noexcept {
  switch (why) {
    case ending::eof:
      return "client closed";
    case ending::line_too_long:
      return "line too long";
    case ending::idle_timeout:
      return "idle timeout";
    case ending::line_timeout:
      return "line timeout";
    case ending::stalled:
      return "client stopped reading";
    case ending::shutdown:
      return "server shutdown";
    case ending::forced:
      return "closed at the end of the shutdown grace";
    case ending::reset:
      return "connection error";
    case ending::sink_failed:
      return "sink failed";
    case ending::internal_error:
      return "internal error";
  }
  return "?";
}

std::optional<protocol::errc> wire_error(ending why) noexcept {
  switch (why) {
    case ending::line_too_long:
      return protocol::errc::line_too_long;
    case ending::idle_timeout:
      return protocol::errc::idle_timeout;
    case ending::line_timeout:
      return protocol::errc::line_timeout;
    case ending::sink_failed:
      return protocol::errc::sink_failed;
    case ending::internal_error:
      return protocol::errc::internal_error;
    default:
      return std::nullopt;
  }
}

void count(stats& counters, ending why) noexcept {
  switch (why) {
    case ending::line_too_long:
      ++counters.line_too_long;
      break;
    case ending::idle_timeout:
      ++counters.idle_timeouts;
      break;
    case ending::line_timeout:
      ++counters.line_timeouts;
      break;
    case ending::stalled:
      ++counters.stalled;
      break;
    case ending::reset:
      ++counters.resets;
      break;
    case ending::sink_failed:
      ++counters.sink_errors;
      break;
    case ending::forced:
      ++counters.forced_closes;
      break;
    case ending::internal_error:
      ++counters.internal_errors;
      break;
    case ending::eof:
    case ending::shutdown:
      break;
  }
}

bool lingers(ending why) noexcept {
  // After EOF the client sends nothing more; after a reset or a stall there is nobody (or
  // nobody reading) to protect; a forced close has no time left to linger.
  return why != ending::eof && why != ending::reset && why != ending::stalled &&
         why != ending::forced;
}

}  // namespace ringline::service

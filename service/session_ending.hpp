#pragma once

#include <optional>
#include <string_view>
#include <system_error>

#include "protocol/errc.hpp"
#include "service/stats.hpp"

namespace ringline::service {

/// Why a session ended; each has its log text, its counter and, for some, an error line.
enum class ending {
  eof,               ///< the client closed its side; everything complete was acked
  line_too_long,     ///< a line exceeded --max-line-bytes
  idle_timeout,      ///< nothing received for --idle-timeout
  line_timeout,      ///< a line stayed unfinished for --line-timeout
  stalled,           ///< acks could not be sent for --idle-timeout: the client stopped reading
  shutdown,          ///< graceful shutdown: reads stopped, everything received was acked
  forced,            ///< the shutdown grace ran out: what was left was cancelled
  reset,             ///< a receive or send failed (reset, broken pipe, ...)
  sink_failed,       ///< the lines could not be written (write error, --sink-timeout, backlog)
  internal_error,    ///< the server could not go on with this session (out of memory, ...)
  sink_unavailable,  ///< the sink was failing when the connection came: closed ungreeted
  /// --proxy-protocol: the connection did not begin with a valid PROXY header within 3 s
  /// (malformed, missing, or too slow); closed without a greeting.
  bad_proxy_header,
  /// --max-connections-per-ip with --proxy-protocol: the client the header names holds its
  /// limit already; told `not connect` instead of the greeting (counted where it is refused).
  over_client_limit,
};

/// Returns the reason printed on the session's `disconnect` log line.
[[nodiscard]] std::string_view describe(ending why) noexcept;

/// Returns the reason of the error line sent before closing, for endings that have one.
[[nodiscard]] std::optional<protocol::errc> wire_error(ending why) noexcept;

/// Adds the session's ending to its counter.
void count(stats& counters, ending why) noexcept;

/// Returns true for endings after which the client may still be sending, so the session
/// lingers (reads and discards input for a while) before it closes.
[[nodiscard]] bool lingers(ending why) noexcept;

}  // namespace ringline::service

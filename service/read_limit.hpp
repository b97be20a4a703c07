#pragma once

#include <chrono>
#include <optional>

#include "service/config.hpp"
#include "service/session_ending.hpp"

namespace ringline::service {

/// How long a session's next read may wait, and which limit ends the session if it passes.
///
/// A client trickling an endless line a byte at a time never goes idle, so an unfinished
/// line has a deadline of its own (--line-timeout) besides the idle one (--idle-timeout).
struct read_limit {
  /// The longest the read may wait; zero means no limit.
  std::chrono::nanoseconds wait;
  /// idle_timeout or line_timeout: the ending a read that times out gives the session.
  ending on_expiry;
};

/// Returns the limit of the next read at `now`: the idle timeout, or what is left of the line
/// timeout of the unfinished line that began at `line_start` (empty: no unfinished line),
/// whichever ends first. A line_timeout limit may already have passed (zero or negative wait).
[[nodiscard]] read_limit next_read_limit(
    const config& settings, std::optional<std::chrono::steady_clock::time_point> line_start,
    std::chrono::steady_clock::time_point now);

}  // namespace ringline::service

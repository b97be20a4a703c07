#pragma once

#include <cstdint>
#include <string>

namespace ringline::service {

/// Counters of one server, kept by its loop's thread and printed at shutdown and on SIGUSR1.
struct stats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  ///< turned away with "not connect": the connection limit
  std::uint64_t active = 0;
  std::uint64_t lines = 0;  ///< lines written to the sink and acknowledged
  std::uint64_t bytes = 0;  ///< bytes received
  std::uint64_t line_too_long = 0;
  std::uint64_t idle_timeouts = 0;
  std::uint64_t line_timeouts = 0;
  std::uint64_t stalled = 0;  ///< sessions dropped because the client stopped reading acks
  std::uint64_t resets = 0;   ///< sessions ended by a receive or send error
  std::uint64_t sink_errors = 0;
  std::uint64_t accept_errors = 0;    ///< runs of failed accepts (retries of one run count once)
  std::uint64_t forced_closes = 0;    ///< sessions cut at the end of the shutdown grace
  std::uint64_t internal_errors = 0;  ///< sessions ended by an internal failure (no memory, ...)

  /// Returns the counters as one `key=value` line, without a newline.
  [[nodiscard]] std::string summary() const;
};

}  // namespace ringline::service

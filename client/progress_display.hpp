#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/deliver.hpp"

namespace ringline::client {

/// Returns the one-line summary of a delivery of `total` lines (nullopt: the lines read so
/// far), as ringline-client prints it on stderr:
/// `lines=200000 sent=200000 acked=200000 resent=812 reconnects=3 elapsed=4.210s rate=47506/s`.
/// `lines` is the whole input even when a failure ended the delivery before it was read, so
/// that the summary and the failure's "N of M lines unacknowledged" agree.
[[nodiscard]] std::string format_summary(const delivery_result& progress,
                                         std::optional<std::uint64_t> total);

/// Returns the progress bar for `progress`, without line control characters: acked of
/// `total` (when known) with a bar and a percentage, the rate, and an ETA.
[[nodiscard]] std::string format_progress(const delivery_result& progress,
                                          std::optional<std::uint64_t> total);

/// Draws a delivery's progress bar on stderr, redrawn in place at most five times a second.
///
/// Disabled (every call does nothing) unless constructed with `enabled`, which
/// ringline-client sets when stderr is a terminal. Single owner, one thread.
class progress_display {
 public:
  /// Constructs a display for a delivery of `total` lines (nullopt: unknown, e.g. stdin).
  progress_display(std::optional<std::uint64_t> total, bool enabled) noexcept
      : m_total(total), m_enabled(enabled) {}

  /// Redraws the bar if the last drawing is old enough.
  void update(const delivery_result& progress);
  /// Erases the bar so that what follows starts on a clean line.
  void finish();

 private:
  std::optional<std::uint64_t> m_total;
  std::chrono::steady_clock::time_point m_drawn{};
  bool m_enabled;
  bool m_visible = false;
};

}  // namespace ringline::client

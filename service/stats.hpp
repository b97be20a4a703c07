#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ringline::service {

/// One counter with a single writer and any number of readers on other threads.
///
/// The owning loop's thread updates it (a relaxed load and store: no read-modify-write is
/// needed with one writer, so the hot path pays nothing over a plain integer); any thread may
/// read it (a relaxed load) for SIGUSR1 or a summary, seeing some recent value.
class stat_counter {
 public:
  stat_counter() noexcept = default;
  /// Copies the value (a snapshot); the copy has the copier as its writer.
  stat_counter(const stat_counter& other) noexcept : m_value(other.load()) {}
  stat_counter& operator=(const stat_counter& other) noexcept {
    store(other.load());
    return *this;
  }

  /// Returns the value. Any thread.
  [[nodiscard]] std::uint64_t load() const noexcept {
    return m_value.load(std::memory_order_relaxed);
  }
  operator std::uint64_t() const noexcept { return load(); }  // NOLINT: reads like an integer

  /// Adds `amount`. The owning thread only.
  stat_counter& operator+=(std::uint64_t amount) noexcept {
    store(load() + amount);
    return *this;
  }
  stat_counter& operator++() noexcept { return *this += 1; }
  stat_counter& operator--() noexcept {
    store(load() - 1);
    return *this;
  }

 private:
  void store(std::uint64_t value) noexcept { m_value.store(value, std::memory_order_relaxed); }
  std::atomic<std::uint64_t> m_value{0};
};

/// Counters of one server, kept by its loop's thread and printed at shutdown and on SIGUSR1;
/// readable from other threads (each field is a stat_counter).
struct stats {
  stat_counter accepted;
  stat_counter refused;  ///< turned away with "not connect": the connection limit
  /// Turned away with "not connect" at --max-connections-per-ip.
  stat_counter refused_per_ip;
  stat_counter active;
  stat_counter lines;  ///< lines written to the sink and acknowledged
  stat_counter bytes;  ///< bytes received
  stat_counter line_too_long;
  stat_counter idle_timeouts;
  stat_counter line_timeouts;
  stat_counter stalled;  ///< sessions dropped because the client stopped reading acks
  stat_counter resets;   ///< sessions ended by a receive or send error
  stat_counter sink_errors;
  stat_counter accept_errors;    ///< runs of failed accepts (retries of one run count once)
  stat_counter forced_closes;    ///< sessions cut at the end of the shutdown grace
  stat_counter internal_errors;  ///< sessions ended by an internal failure (no memory, ...)
  stat_counter lines_received;   ///< complete lines framed (for /metrics; not in summary())
  /// --proxy-protocol: connections closed without a greeting for a missing, malformed or
  /// slow PROXY header.
  stat_counter proxy_errors;

  /// Adds every counter of `other` to this one (summing the servers of all threads); the
  /// caller owns this object.
  stats& operator+=(const stats& other) noexcept;

  /// Returns the counters as one `key=value` line, without a newline.
  [[nodiscard]] std::string summary() const;
};

}  // namespace ringline::service

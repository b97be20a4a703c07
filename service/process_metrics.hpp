#pragma once

#include <cstdint>
#include <optional>

namespace ringline::service {

/// The process metrics that Prometheus client libraries export (`process_*`), read from
/// /proc/self. Each field is empty when the kernel would not tell.
struct process_metrics {
  std::optional<std::uint64_t> open_fds;        ///< descriptors open
  std::optional<std::uint64_t> max_fds;         ///< the soft RLIMIT_NOFILE
  std::optional<std::uint64_t> resident_bytes;  ///< resident set size
  std::optional<std::uint64_t> virtual_bytes;   ///< virtual memory size
  std::optional<double> cpu_seconds;            ///< user and system CPU time
  std::optional<double> start_time_seconds;     ///< since the Unix epoch
};

/// Reads the process metrics. Reads of /proc are answered from kernel memory and never wait
/// on a device, in constant time on Linux 6.2 and later; before 6.2 the descriptors are
/// counted by listing /proc/self/fd, about 3 µs per open descriptor. Any thread.
[[nodiscard]] process_metrics read_process_metrics() noexcept;

namespace detail {
/// Returns the number of open descriptors counted by listing /proc/self/fd: what
/// read_process_metrics() falls back to before Linux 6.2; empty if it cannot be listed.
[[nodiscard]] std::optional<std::uint64_t> list_open_fds() noexcept;
}  // namespace detail

}  // namespace ringline::service

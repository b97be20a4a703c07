#pragma once

#include <cstdint>
#include <optional>

namespace ringline::service {

/// The process metrics that Prometheus client libraries export (`process_*`), read from
/// /proc/self. Each field is empty when the kernel would not tell.
struct process_metrics {
  std::optional<std::uint64_t> open_fds;        ///< entries of /proc/self/fd
  std::optional<std::uint64_t> max_fds;         ///< the soft RLIMIT_NOFILE
  std::optional<std::uint64_t> resident_bytes;  ///< resident set size
  std::optional<std::uint64_t> virtual_bytes;   ///< virtual memory size
  std::optional<double> cpu_seconds;            ///< user and system CPU time
  std::optional<double> start_time_seconds;     ///< since the Unix epoch
};

/// Reads the process metrics. Reads of /proc are answered from kernel memory and never wait
/// on a device; counting /proc/self/fd costs about a microsecond per open descriptor, the
/// only part that grows (with the sessions). Any thread.
[[nodiscard]] process_metrics read_process_metrics() noexcept;

}  // namespace ringline::service

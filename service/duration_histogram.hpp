#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ringline::service {

/// Counts durations into fixed buckets, as a Prometheus histogram exposes them: from 50 µs
/// (a write to the page cache) to 2.5 s (a disk that stalls). Kept and read by one thread.
class duration_histogram {
 public:
  /// Upper bounds of the buckets, in seconds; a last bucket (+Inf) takes the rest.
  static constexpr std::array<double, 14> k_bounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                   0.0025,  0.005,  0.01,    0.025,  0.05,
                                                   0.1,     0.25,   1.0,     2.5};

  /// Counts one duration.
  void record(std::chrono::nanoseconds duration) noexcept {
    const double seconds = std::chrono::duration<double>(duration).count();
    std::size_t bucket = 0;
    while (bucket < k_bounds.size() && seconds > k_bounds[bucket]) {
      ++bucket;
    }
    ++m_counts[bucket];
    m_sum += seconds;
    ++m_count;
  }

  /// Returns how many durations fell at or below k_bounds[i] (i < k_bounds.size()), or in
  /// all (i == k_bounds.size()): the cumulative counts Prometheus wants.
  [[nodiscard]] std::uint64_t cumulative(std::size_t i) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t b = 0; b <= i && b < m_counts.size(); ++b) {
      total += m_counts[b];
    }
    return total;
  }
  [[nodiscard]] double sum_seconds() const noexcept { return m_sum; }
  [[nodiscard]] std::uint64_t count() const noexcept { return m_count; }

 private:
  std::array<std::uint64_t, k_bounds.size() + 1> m_counts{};
  double m_sum = 0;
  std::uint64_t m_count = 0;
};

}  // namespace ringline::service

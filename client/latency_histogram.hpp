#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringline::client {

/// Counts latencies in nanoseconds in log-linear buckets: values below 128 exactly, and each
/// power of two above split into 128 equal sub-buckets, so a percentile read back is within
/// 1/256 (0.4%) of a recorded value. Covers the whole uint64_t range in a fixed 60 KiB,
/// records without allocating, and adds up across threads with merge(). Not synchronised:
/// one thread records into it, and histograms of other threads are merged after they joined.
class latency_histogram {
 public:
  /// Sub-buckets per power of two; the relative width of a bucket is at most 1/128.
  static constexpr unsigned sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_bucket_count = std::uint64_t{1} << sub_bucket_bits;
  /// Buckets needed to cover every uint64_t value.
  static constexpr std::size_t bucket_count = (64 - sub_bucket_bits + 1) * sub_bucket_count;

  /// Counts one value.
  void record(std::uint64_t nanoseconds) noexcept {
    ++m_buckets[bucket_of(nanoseconds)];
    ++m_count;
    if (nanoseconds > m_max) {
      m_max = nanoseconds;
    }
  }

  /// Adds every value counted by `other`.
  void merge(const latency_histogram& other) noexcept;

  /// Returns the value at `quantile` (0..1): the smallest recorded value such that at least
  /// quantile * count() values are at or below it, as the middle of its bucket (never above
  /// max()). Returns 0 when nothing was recorded.
  [[nodiscard]] std::uint64_t value_at(double quantile) const noexcept;

  /// Returns how many values were recorded, and the largest exactly.
  [[nodiscard]] std::uint64_t count() const noexcept { return m_count; }
  [[nodiscard]] std::uint64_t max() const noexcept { return m_max; }

  /// Returns the bucket that counts `value`; buckets are ordered as their values are.
  [[nodiscard]] static std::size_t bucket_of(std::uint64_t value) noexcept;
  /// Returns the smallest value counted by `bucket`, and the number of values it spans.
  [[nodiscard]] static std::uint64_t bucket_low(std::size_t bucket) noexcept;
  [[nodiscard]] static std::uint64_t bucket_width(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, bucket_count> m_buckets{};
  std::uint64_t m_count = 0;
  std::uint64_t m_max = 0;
};

}  // namespace ringline::client

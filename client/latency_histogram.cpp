#include "client/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ringline::client {

// Layout: values below 128 go to buckets 0..127 one each (shift 0). A larger value with its
// top bit at position m is shifted right by s = m - 7, leaving its top 8 bits, 128..255, and
// lands in bucket s * 128 + those bits: shift s covers buckets 128(s+1) .. 128(s+2)-1, so the
// buckets of consecutive shifts follow each other without gaps and in value order.
std::size_t latency_histogram::bucket_of(std::uint64_t value) noexcept {
  if (value < sub_bucket_count) {
    return static_cast<std::size_t>(value);
  }
  const auto shift = static_cast<unsigned>(std::bit_width(value)) - 1 - sub_bucket_bits;
  return static_cast<std::size_t>(shift) * sub_bucket_count +
         static_cast<std::size_t>(value >> shift);
}

std::uint64_t latency_histogram::bucket_low(std::size_t bucket) noexcept {
  if (bucket < 2 * sub_bucket_count) {
    return bucket;
  }
  const auto shift = static_cast<unsigned>(bucket / sub_bucket_count) - 1;
  const auto top = static_cast<std::uint64_t>(bucket - shift * sub_bucket_count);
  return top << shift;
}

std::uint64_t latency_histogram::bucket_width(std::size_t bucket) noexcept {
  if (bucket < 2 * sub_bucket_count) {
    return 1;
  }
  return std::uint64_t{1} << (bucket / sub_bucket_count - 1);
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) {
    m_buckets[i] += other.m_buckets[i];
  }
  m_count += other.m_count;
  m_max = std::max(m_max, other.m_max);
}

std::uint64_t latency_histogram::value_at(double quantile) const noexcept {
  if (m_count == 0) {
    return 0;
  }
  // The rank of the wanted value, 1-based, as an exact percentile over sorted data takes it.
  const double wanted = std::ceil(std::clamp(quantile, 0.0, 1.0) * static_cast<double>(m_count));
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += m_buckets[i];
    if (seen >= rank) {
      // The middle halves the worst error against either edge of the bucket.
      const auto middle = bucket_low(i) + (bucket_width(i) - 1) / 2;
      return std::min(middle, m_max);
    }
  }
  return m_max;
}

}  // namespace ringline::client

#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace ringline::client {

/// Delays between reconnection attempts: exponential backoff with jitter.
///
/// The base delay starts at `first` and doubles after every attempt up to `most`; each delay
/// is drawn uniformly from [base / 2, base] ("equal jitter"), so clients that lost the same
/// server at the same moment do not all come back at the same moment, while every delay still
/// grows. reset() returns to `first` once a connection made progress. Single owner.
class backoff {
 public:
  /// The defaults of ringline-client: 100 ms, doubling up to 5 s.
  static constexpr std::chrono::milliseconds default_first{100};
  static constexpr std::chrono::milliseconds default_most{5'000};

  /// Constructs a backoff whose jitter comes from a generator seeded with `seed`.
  explicit backoff(std::uint64_t seed, std::chrono::milliseconds first = default_first,
                   std::chrono::milliseconds most = default_most) noexcept;

  /// Returns the next delay and doubles the base for the one after.
  std::chrono::milliseconds next();
  /// Starts again from the first delay.
  void reset() noexcept { m_base = m_first; }
  /// Returns the base of the next delay (the next delay lies in [base / 2, base]).
  [[nodiscard]] std::chrono::milliseconds base() const noexcept { return m_base; }

 private:
  std::chrono::milliseconds m_first;
  std::chrono::milliseconds m_most;
  std::chrono::milliseconds m_base;
  std::mt19937_64 m_random;
};

}  // namespace ringline::client

#pragma once

#include <algorithm>
#include <chrono>
#include <climits>

namespace ringline::test_support {

/// A point on the steady clock after which a bounded wait gives up.
class deadline {
 public:
  using clock = std::chrono::steady_clock;

  /// Constructs a deadline `timeout` from now; a negative timeout is already expired.
  explicit deadline(std::chrono::milliseconds timeout) : m_at(clock::now() + timeout) {}

  /// Returns true once the deadline has passed.
  [[nodiscard]] bool expired() const { return clock::now() >= m_at; }

  /// Returns the time left as a poll() timeout in milliseconds, never negative. It rounds up,
  /// so that a sub-millisecond remainder does not become a busy loop of zero-timeout polls.
  [[nodiscard]] int poll_ms() const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(m_at - clock::now()).count();
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left, 0, INT_MAX));
  }

  /// Returns the time left as a duration, never negative.
  [[nodiscard]] std::chrono::milliseconds left() const {
    return std::chrono::milliseconds(poll_ms());
  }

 private:
  clock::time_point m_at;
};

}  // namespace ringline::test_support

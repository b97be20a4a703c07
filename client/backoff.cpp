#include "client/backoff.hpp"

#include <algorithm>

namespace ringline::client {

backoff::backoff(std::uint64_t seed, std::chrono::milliseconds first,
                 std::chrono::milliseconds most) noexcept
    : m_first(std::max(first, std::chrono::milliseconds(1))),
      m_most(std::max(most, m_first)),
      m_base(m_first),
      m_random(seed) {}

std::chrono::milliseconds backoff::next() {
  const auto base = m_base.count();
  std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(base / 2, base);
  const std::chrono::milliseconds delay(jitter(m_random));
  m_base = std::min(m_base * 2, m_most);
  return delay;
}

}  // namespace ringline::client

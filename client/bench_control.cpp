#include "client/bench_control.hpp"

#include <algorithm>

namespace ringline::client {

bench_control::bench_control(std::size_t workers, std::uint64_t lines)
    : m_limited(lines > 0),
      m_remaining(static_cast<std::int64_t>(lines)),
      m_start(static_cast<std::ptrdiff_t>(workers)),
      m_workers(workers),
      m_slots(std::make_unique<slot[]>(workers)) {}

std::size_t bench_control::reserve(std::size_t wanted) noexcept {
  if (!m_limited || wanted == 0) {
    return wanted;
  }
  // One atomic step per batch; the counter may go below zero, and whoever takes it there
  // gets only what was left before its step.
  const auto before =
      m_remaining.fetch_sub(static_cast<std::int64_t>(wanted), std::memory_order_relaxed);
  if (before <= 0) {
    return 0;
  }
  return std::min(wanted, static_cast<std::size_t>(before));
}

void bench_control::ready() {
  m_start.arrive_and_wait();
}

void bench_control::leave() {
  m_start.arrive_and_drop();
}

void bench_control::publish(std::size_t worker, std::uint64_t lines, std::uint64_t errors,
                            std::uint64_t p99_ns) noexcept {
  auto& mine = m_slots[worker];
  mine.lines.store(lines, std::memory_order_relaxed);
  mine.errors.store(errors, std::memory_order_relaxed);
  mine.p99_ns.store(p99_ns, std::memory_order_relaxed);
}

bench_control::progress bench_control::snapshot() const noexcept {
  progress sum;
  for (std::size_t i = 0; i < m_workers; ++i) {
    const auto& one = m_slots[i];
    sum.lines += one.lines.load(std::memory_order_relaxed);
    sum.errors += one.errors.load(std::memory_order_relaxed);
    sum.p99_ns = std::max(sum.p99_ns, one.p99_ns.load(std::memory_order_relaxed));
  }
  return sum;
}

}  // namespace ringline::client

#include "runtime/timer_wheel.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

namespace ringline::runtime {

timer_wheel::timer_wheel(clock::time_point now) : m_slots(k_slots), m_next_tick(tick_of(now)) {
  for (auto& sentinel : m_slots) {
    sentinel.m_prev = &sentinel;
    sentinel.m_next = &sentinel;
  }
}

void timer_wheel::arm(detail::timer_node& node, clock::time_point now,
                      clock::duration timeout) noexcept {
  assert(!node.armed());
  // Due at the start of the tick after the one holding the deadline: never early. A node
  // due in a tick already expired goes in the next one to expire.
  node.m_due_tick = std::max(tick_of(now + timeout) + 1, m_next_tick);
  set_occupied(node.m_due_tick, true);
  auto& sentinel = slot_of(node.m_due_tick);
  node.m_prev = sentinel.m_prev;
  node.m_next = &sentinel;
  sentinel.m_prev->m_next = &node;
  sentinel.m_prev = &node;
  ++m_armed;
}

void timer_wheel::disarm(detail::timer_node& node) noexcept {
  if (!node.armed()) {
    return;
  }
  node.m_prev->m_next = node.m_next;
  node.m_next->m_prev = node.m_prev;
  if (node.m_prev == node.m_next) {
    set_occupied(node.m_due_tick, false);  // both are the sentinel: the slot is empty now
  }
  node.m_prev = nullptr;
  node.m_next = nullptr;
  --m_armed;
}

std::size_t timer_wheel::expire(clock::time_point now) noexcept {
  const std::int64_t now_tick = tick_of(now);
  if (m_armed == 0) {
    m_next_tick = std::max(m_next_tick, now_tick + 1);
    return 0;
  }
  // After a long pause every slot is visited once, not once per tick that passed.
  const std::int64_t last =
      std::min(now_tick, m_next_tick + static_cast<std::int64_t>(k_slots) - 1);
  std::size_t fired = 0;
  for (std::int64_t tick = m_next_tick; tick <= last; ++tick) {
    auto& sentinel = slot_of(tick);
    for (detail::timer_node* node = sentinel.m_next; node != &sentinel;) {
      detail::timer_node* next = node->m_next;
      if (node->m_due_tick <= now_tick) {
        disarm(*node);
        node->m_on_expiry(*node);
        ++fired;
      }
      node = next;
    }
  }
  m_next_tick = std::max(m_next_tick, now_tick + 1);
  return fired;
}

std::optional<timer_wheel::clock::duration> timer_wheel::time_to_next(
    clock::time_point now) const noexcept {
  if (m_armed == 0) {
    return std::nullopt;
  }
  // The first non-empty slot bounds the sleep; its nodes may belong to a later round, and
  // then the loop only wakes once more than it had to. The search starts at the slot of
  // m_next_tick and wraps around once: the last word is the first one again, without the
  // bits already looked at.
  const auto start = slot_index(m_next_tick);
  for (std::size_t step = 0; step <= k_words; ++step) {
    const std::size_t word = (start / 64 + step) % k_words;
    std::uint64_t bits = m_occupied[word];
    if (step == 0) {
      bits &= ~std::uint64_t{0} << (start % 64);
    } else if (step == k_words) {
      bits &= (std::uint64_t{1} << (start % 64)) - 1;
    }
    if (bits != 0) {
      const std::size_t slot = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      const std::int64_t tick =
          m_next_tick + static_cast<std::int64_t>((slot + k_slots - start) % k_slots);
      const clock::time_point due{std::chrono::duration_cast<clock::duration>(tick * k_tick)};
      return std::max(due - now, clock::duration::zero());
    }
  }
  return clock::duration::zero();
}

}  // namespace ringline::runtime

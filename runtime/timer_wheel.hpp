#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringline::runtime {

namespace detail {

/// A deadline kept by a timer_wheel, embedded in what it limits (an I/O operation), so
/// arming one allocates nothing and disarming it is an unlink.
struct timer_node {
  /// Called once when the deadline has passed; the node is already disarmed.
  using expiry_fn = void (*)(timer_node& self) noexcept;
  expiry_fn m_on_expiry = nullptr;
  timer_node* m_prev = nullptr;
  timer_node* m_next = nullptr;
  std::int64_t m_due_tick = 0;

  [[nodiscard]] bool armed() const noexcept { return m_next != nullptr; }
};

}  // namespace detail

/// Coarse deadlines for many operations at once: a hashed timer wheel.
///
/// A deadline per operation used to be a linked timeout, which costs the kernel two more
/// SQEs, a timer armed and cancelled, and a completion for every receive and send, although
/// almost none of them ever fires. Here arming and disarming are a few pointer writes; the
/// loop looks at the wheel once per turn and cancels the operations whose deadline passed.
/// Deadlines are rounded up to the next tick, so one fires between its time and a tick
/// later, never early; deadlines beyond one turn of the wheel wait in their slot for their
/// round. Used by one thread.
class timer_wheel {
 public:
  using clock = std::chrono::steady_clock;
  /// The resolution, and the shortest sleep the loop takes for a deadline.
  static constexpr std::chrono::milliseconds k_tick{100};
  static constexpr std::size_t k_slots = 1024;

  explicit timer_wheel(clock::time_point now = clock::now());
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  /// Arms `node` to expire `timeout` after `now`; it must not be armed already.
  void arm(detail::timer_node& node, clock::time_point now, clock::duration timeout) noexcept;

  /// Disarms `node` if it is armed.
  void disarm(detail::timer_node& node) noexcept;

  /// Calls the expiry function of every node whose deadline has passed at `now`; returns
  /// how many fired.
  std::size_t expire(clock::time_point now) noexcept;

  /// Returns how long the loop may sleep before a deadline may be due (zero when one is
  /// due now), or nothing when no node is armed.
  [[nodiscard]] std::optional<clock::duration> time_to_next(clock::time_point now) const noexcept;

  /// Returns how many nodes are armed.
  [[nodiscard]] std::size_t armed() const noexcept { return m_armed; }

 private:
  static std::int64_t tick_of(clock::time_point when) noexcept {
    return when.time_since_epoch() / k_tick;
  }
  static std::size_t slot_index(std::int64_t tick) noexcept {
    return static_cast<std::size_t>(tick) % k_slots;
  }
  detail::timer_node& slot_of(std::int64_t tick) noexcept { return m_slots[slot_index(tick)]; }
  // Marks the slot of `tick` as holding a node, or as empty.
  void set_occupied(std::int64_t tick, bool occupied) noexcept {
    const auto slot = slot_index(tick);
    const auto bit = std::uint64_t{1} << (slot % 64);
    m_occupied[slot / 64] = occupied ? m_occupied[slot / 64] | bit : m_occupied[slot / 64] & ~bit;
  }

  // Each slot is the sentinel of a circular list, so a node unlinks without knowing its slot.
  std::vector<detail::timer_node> m_slots;
  // One bit per slot, set while the slot holds a node: the loop asks for its next deadline on
  // every turn it may sleep, and scanning for it bit by bit is 16 words, not 1,024 slots.
  static constexpr std::size_t k_words = k_slots / 64;
  static_assert(k_slots % 64 == 0);
  std::array<std::uint64_t, k_words> m_occupied{};
  std::int64_t m_next_tick;  // the first tick not yet expired
  std::size_t m_armed = 0;
};

}  // namespace ringline::runtime

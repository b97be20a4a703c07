#pragma once

#include <cassert>
#include <coroutine>

#include "runtime/event_loop.hpp"

namespace ringline::runtime {

/// A one-shot signal from one coroutine to another on the same event loop.
///
/// At most one coroutine waits at a time. set() wakes it through the loop's post queue (never
/// inline, so the setter keeps running undisturbed); once set, waits complete at once until
/// reset(). The event must outlive the wait.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the event and schedules the waiting coroutine, if any.
  void set() noexcept {
    m_set = true;
    if (m_waiter) {
      event_loop::current().post(std::exchange(m_waiter, nullptr));
    }
  }

  /// Clears the event so the next wait suspends again.
  void reset() noexcept { m_set = false; }

  [[nodiscard]] bool is_set() const noexcept { return m_set; }

  [[nodiscard]] bool await_ready() const noexcept { return m_set; }
  void await_suspend(std::coroutine_handle<> waiter) noexcept {
    assert(!m_waiter && "one waiter at a time");
    m_waiter = waiter;
  }
  void await_resume() const noexcept {}

 private:
  std::coroutine_handle<> m_waiter;
  bool m_set = false;
};

}  // namespace ringline::runtime

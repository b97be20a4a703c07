#pragma once

#include <coroutine>

#include "runtime/event_loop.hpp"

namespace ringline::runtime {

/// Awaiter of yield(): posts the awaiting coroutine to its loop.
class yield_awaiter {
 public:
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) const { event_loop::current().post(self); }
  void await_resume() const noexcept {}
};

/// Suspends the calling coroutine and resumes it on the next turn of its event_loop, after
/// the loop has submitted queued operations, collected the completions that are ready, and
/// run what was posted before. A long computation or a busy loop can co_await it to let I/O
/// and other coroutines make progress. Must be awaited on a thread with an event_loop;
/// posting may throw std::bad_alloc.
[[nodiscard]] inline yield_awaiter yield() noexcept {
  return {};
}

}  // namespace ringline::runtime

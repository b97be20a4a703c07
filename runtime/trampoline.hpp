#pragma once

#include <cassert>
#include <coroutine>
#include <utility>

namespace ringline::runtime::detail {

/// The handle that the innermost running trampoline resumes next, or null outside of one.
inline thread_local std::coroutine_handle<>* t_next_slot = nullptr;

/// Resumes `handle` on a flat stack.
///
/// Symmetric transfer (await_suspend returning the next handle) keeps the stack flat only
/// when the compiler turns the resume into a tail call, and GCC 12 does not at -O0. So
/// transfers go through this trampoline instead: called from await_suspend or final_suspend
/// of a coroutine that is about to suspend, it only records `handle` and returns; the
/// outermost call resumes the recorded handles one after another. A chain of any number of
/// synchronous completions therefore costs constant stack in every build.
///
/// Inside a trampoline, call it at most once per suspension (it asserts); to wake another
/// coroutine from running code, post it to the event loop instead.
inline void resume(std::coroutine_handle<> handle) noexcept {
  if (t_next_slot != nullptr) {
    assert(!*t_next_slot && "two coroutines handed over in one suspension");
    *t_next_slot = handle;
    return;
  }
  std::coroutine_handle<> next = handle;
  t_next_slot = &next;
  while (next) {
    std::exchange(next, nullptr).resume();
  }
  t_next_slot = nullptr;
}

}  // namespace ringline::runtime::detail

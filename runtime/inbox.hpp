#pragma once

#include <coroutine>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime {

/// A thread-safe way into one event loop: other threads post coroutines to resume, or small
/// callables to run, on the loop that owns the inbox.
///
/// Built on an eventfd: run(), spawned on the owning loop, keeps a read of it in flight and
/// runs what was posted in batches. Posting is one mutex-protected push; the eventfd is
/// written only when no wake-up is pending yet, so a burst of posts costs one write and one
/// completion. Posted work runs in posting order per inbox.
///
/// Threads: post() and close() may be called from any thread; run() and current() belong to
/// the owning loop's thread. Lifetime: the inbox must outlive every thread that may post to
/// it and the run() task. Work still queued when the inbox is destroyed, or posted after
/// run() ended, is dropped: callables are destroyed unrun, handles are not resumed (their
/// frames belong to someone else).
class inbox {
 public:
  /// Opens the eventfd; throws std::system_error when the process is out of descriptors.
  inbox();
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;
  ~inbox();

  /// Returns the inbox whose run() was called on the calling thread and has not ended, or null.
  [[nodiscard]] static inbox* current() noexcept;

  /// Queues `handle` to be resumed on the owning loop (through its post queue). Any thread.
  void post(std::coroutine_handle<> handle);
  /// Queues every handle of `handles`, with at most one wake-up. Any thread.
  void post(std::span<const std::coroutine_handle<>> handles);
  /// Queues `work` to be called on the owning loop's thread. Any thread. `work` must not
  /// throw; an exception from it ends run() and reaches the loop as a spawned task's failure.
  void post(std::function<void()> work);

  /// Runs posted work until close(). Call it on the owning loop's thread (which makes this
  /// the thread's current() inbox at once) and spawn it there, once.
  task<void> run();

  /// Makes run() return after the work already posted. Any thread; idempotent.
  void close();

  /// Returns how many times the eventfd was written: for tests of the batching.
  [[nodiscard]] std::size_t wakeups() const;

 private:
  void wake_locked_out(bool needed);
  task<void> serve();

  unique_fd m_event;
  mutable std::mutex m_mutex;
  std::vector<std::coroutine_handle<>> m_handles;
  std::vector<std::function<void()>> m_work;
  bool m_wake_pending = false;
  bool m_closed = false;
  std::size_t m_wakeups = 0;
};

}  // namespace ringline::runtime

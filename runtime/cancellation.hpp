#pragma once

#include <cassert>

#include "runtime/operation.hpp"

namespace ringline::runtime {

/// Lets one coroutine cancel the operation another coroutine is waiting for.
///
/// Hand a cancellation to I/O operations through io_options. request() cancels the
/// operation in flight, which then completes with std::errc::operation_canceled; the waiting
/// coroutine still resumes only after the kernel has delivered that completion, so its frame
/// and buffers stay valid until the kernel is done with them. Once requested, every later
/// operation given this cancellation completes at once with operation_canceled, so a request
/// that races with the gap between two operations is not lost. One operation at a time may
/// use a cancellation. Owned by the caller; must outlive the operations that use it; used
/// only on the thread of its event loop.
class cancellation {
 public:
  cancellation() = default;
  cancellation(const cancellation&) = delete;
  cancellation& operator=(const cancellation&) = delete;
  ~cancellation() { assert(m_pending == nullptr && "destroyed while an operation uses it"); }

  /// Requests cancellation of the current and every later operation that uses this object.
  void request() noexcept;

  /// Returns true once request() has been called.
  [[nodiscard]] bool requested() const noexcept { return m_requested; }

  /// Called by operations: records the operation now in flight (or null when it is done).
  void set_pending(detail::operation* operation) noexcept {
    assert(operation == nullptr || m_pending == nullptr);
    m_pending = operation;
  }

 private:
  detail::operation* m_pending = nullptr;
  bool m_requested = false;
};

}  // namespace ringline::runtime

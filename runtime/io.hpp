#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/address.hpp"
#include "runtime/buffer_ring.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/operation.hpp"
#include "runtime/result.hpp"
#include "runtime/timer_wheel.hpp"
#include "runtime/unique_fd.hpp"

// Awaitable I/O operations on the calling thread's event_loop.
//
// Each function returns an awaiter that holds the operation's state; co_await it at once
// (`co_await recv_some(fd, buffer)`), from a coroutine running on an event_loop. The state
// lives in the awaiting frame and the frame stays suspended until the kernel's last
// completion for it, so buffers passed in only need to outlive the co_await. Errors come back
// as std::error_code values in the system category (ECONNRESET, EPIPE, ...), plus
// std::errc::operation_canceled after cancellation::request() and std::errc::timed_out when
// io_options::timeout passed. EINTR is retried, never returned.

namespace ringline::runtime {

/// Per-operation options.
struct io_options {
  /// Fails the operation with std::errc::timed_out when it has not completed in this time
  /// (zero: no limit). Operations that resubmit (short sends) get the limit per submission.
  /// Kept by the loop's timer_wheel: it fires up to one tick (100 ms) late, never early.
  std::chrono::nanoseconds timeout{0};
  /// Lets another coroutine cancel the operation; may be null.
  cancellation* cancel = nullptr;
};

/// A connection returned by accept.
struct accepted {
  unique_fd fd;
  address peer;
};

namespace detail {

/// The state of one operation, shared by all the awaiters below.
class io_operation : public io_request, private timer_node {
 public:
  io_operation(io_kind kind, int fd, io_options options) noexcept;
  /// For transfers: `data` is written through only by receives and reads.
  io_operation(io_kind kind, int fd, const char* data, std::size_t size, int flags,
               io_options options) noexcept;

  // Awaiters live in coroutine frames, and the frame of every connection holds several:
  // what only some kinds need (an address, a timespec) lives in those kinds' classes, which
  // point m_data at it, so the common state stays small.
  io_operation(const io_operation&) = delete;
  io_operation& operator=(const io_operation&) = delete;

  /// A cancellation requested before the operation starts skips the kernel entirely.
  bool await_ready() noexcept;
  void await_suspend(std::coroutine_handle<> waiter);

 protected:
  /// Returns the byte count / descriptor, or the error the kernel reported.
  result<std::size_t> outcome() const noexcept;
  void submit();
  /// Takes one completion; returns true when the operation is over (outcome() is final),
  /// false when it was resubmitted (a short send, EINTR).
  [[nodiscard]] bool settle(int res, std::uint32_t flags) noexcept;
  /// Makes a finished operation ready to be submitted again, on `fd` with `options`.
  void rearm(int fd, io_options options) noexcept;

  std::uint32_t m_cqe_flags = 0;  // flags of the last completion (buffer id, ...)

 private:
  static void on_complete(operation& self, int res, std::uint32_t flags) noexcept;
  static void on_deadline(timer_node& self) noexcept;
  [[nodiscard]] bool wants_resubmit(int res) noexcept;

  bool m_timed_out = false;  // the deadline passed and the loop cancelled the operation
  int m_res = 0;
  io_options m_options;
  std::coroutine_handle<> m_waiter;
};

/// What a pooled receive yields, from its outcome and the flags of its completion: a
/// completion that carries a buffer gives it back, whatever else it says.
result<received_buffer> pooled_outcome(result<std::size_t> got, std::uint32_t cqe_flags,
                                       buffer_ring& pool) noexcept;

}  // namespace detail

/// Awaiter of accept(): yields the new connection (close-on-exec) and its peer address.
class accept_awaiter : public detail::io_operation {
 public:
  accept_awaiter(int listen_fd, io_options options) noexcept;
  result<accepted> await_resume() noexcept;

 private:
  sockaddr_storage m_address{};
};

/// Awaiter of connect().
class connect_awaiter : public detail::io_operation {
 public:
  connect_awaiter(int fd, const address& peer, io_options options) noexcept;
  result<void> await_resume() const noexcept;

 private:
  sockaddr_storage m_address{};
};

/// Awaiter of sleep_for().
class sleep_awaiter : public detail::io_operation {
 public:
  sleep_awaiter(std::chrono::nanoseconds duration, cancellation* cancel) noexcept;
  result<void> await_resume() const noexcept;

 private:
  __kernel_timespec m_timespec{};
};

/// Awaiter of operations that yield a byte count (0 from recv_some/read_some means EOF).
class transfer_awaiter : public detail::io_operation {
 public:
  transfer_awaiter(detail::io_kind kind, int fd, const char* data, std::size_t size, int flags,
                   io_options options) noexcept;
  result<std::size_t> await_resume() const noexcept { return outcome(); }
};

/// Awaiter of operations that yield only success or an error.
class status_awaiter : public detail::io_operation {
 public:
  status_awaiter(detail::io_kind kind, int fd, io_options options) noexcept;
  status_awaiter(detail::io_kind kind, int fd, const char* data, std::size_t size, int flags,
                 io_options options) noexcept;
  result<void> await_resume() const noexcept;
};

/// Awaiter of recv_pooled(): yields the buffer the kernel filled (empty at end of stream).
class pooled_recv_awaiter : public detail::io_operation {
 public:
  pooled_recv_awaiter(int fd, buffer_ring& pool, io_options options) noexcept;
  result<received_buffer> await_resume() noexcept;

 private:
  buffer_ring* m_pool;
};

/// Accepts one connection on `listen_fd`.
[[nodiscard]] accept_awaiter accept(int listen_fd, io_options options = {}) noexcept;

/// Receives at most buffer.size() bytes; yields the count, 0 when the peer has closed.
[[nodiscard]] transfer_awaiter recv_some(int fd, std::span<char> buffer,
                                         io_options options = {}) noexcept;

/// Receives into a buffer that the kernel picks from `pool` when data arrives, so nothing is
/// held while waiting. Fails with std::errc::no_buffer_space when every buffer is lent out
/// (the caller may then receive into a buffer of its own).
[[nodiscard]] pooled_recv_awaiter recv_pooled(int fd, buffer_ring& pool,
                                              io_options options = {}) noexcept;

/// Sends all of `data` (MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE), resubmitting
/// after short sends.
[[nodiscard]] status_awaiter send_all(int fd, std::span<const char> data,
                                      io_options options = {}) noexcept;

/// Reads at most buffer.size() bytes at the file's current position; 0 at end of file.
[[nodiscard]] transfer_awaiter read_some(int fd, std::span<char> buffer,
                                         io_options options = {}) noexcept;

/// Whether a write also reaches stable storage before it completes.
enum class write_sync {
  none,
  /// RWF_DSYNC: the write completes once its data (and what is needed to read it back, such
  /// as the file's new size) is on stable storage, as if fdatasync had followed it; one
  /// request instead of a write and a flush.
  data,
};

/// Writes all of `data` at the file's current position (the end, for O_APPEND files).
[[nodiscard]] status_awaiter write_all(int fd, std::span<const char> data, io_options options = {},
                                       write_sync sync = write_sync::none) noexcept;

/// Connects the socket `fd` to `peer`.
[[nodiscard]] connect_awaiter connect(int fd, const address& peer,
                                      io_options options = {}) noexcept;

/// Closes `fd` through the ring. The descriptor is released at once, whatever the result.
[[nodiscard]] status_awaiter close(unique_fd fd) noexcept;

/// Flushes the data of the file `fd` to stable storage (fdatasync): once it succeeds, what
/// was written before survives a crash or power loss.
[[nodiscard]] status_awaiter datasync(int fd, io_options options = {}) noexcept;

/// Suspends until `fd` is readable (or has an error or hang-up to report).
[[nodiscard]] status_awaiter poll_readable(int fd, io_options options = {}) noexcept;

/// Suspends for `duration`; yields operation_canceled if `cancel` is requested first.
[[nodiscard]] sleep_awaiter sleep_for(std::chrono::nanoseconds duration,
                                      cancellation* cancel = nullptr) noexcept;

}  // namespace ringline::runtime

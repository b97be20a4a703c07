#pragma once

#include <sys/socket.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>

#include "runtime/address.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/io.hpp"
#include "runtime/operation.hpp"
#include "runtime/result.hpp"

namespace ringline::runtime {

/// How an accept_stream asks the kernel for connections.
enum class accept_mode : std::uint8_t {
  multishot,   ///< one request for every connection, where the kernel has it
  single_shot  ///< one request per connection
};

/// The connections arriving on one listening socket, taken one at a time with next().
///
/// Where the kernel has it (event_loop::features().multishot_accept), one multishot accept
/// stays armed: the kernel posts a completion per connection, which waits in this object
/// until next() takes it. A completion without k_completion_more disarms it (an error such as
/// EMFILE, which next() then yields, or the kernel dropping the request); the next call to
/// next() arms it again. Without the feature, when the owner prefers it, or when the
/// environment variable RINGLINE_SINGLESHOT_ACCEPT=1 is set, each next() submits one
/// single-shot accept instead, as runtime::accept() does; RINGLINE_MULTISHOT_ACCEPT=1 asks
/// for the multishot request whatever the owner prefers. Both variables are switches for
/// benchmarks and tests, not settings for operators.
///
/// The queue is bounded: once k_pause_at connections wait in it, the stream cancels its
/// request and leaves further connections in the kernel's backlog until next() has taken
/// them. (The kernel accepts what is in the backlog in one go before the cancellation
/// reaches it, so the queue may hold up to k_pause_at plus the listen backlog.)
///
/// The kernel keeps the RLIMIT_NOFILE of the moment a multishot request was armed for the
/// request's whole life, so the stream compares it with the current limit whenever a
/// connection gets a descriptor higher than any before, and otherwise at most every
/// k_limit_check, and arms the request again when the limit fell (an operator's prlimit).
/// A lowered limit then takes effect after at most one connection beyond it, as it does at
/// once for single-shot accepts.
///
/// Lifetime: the object holds the request's state, so it must not be destroyed while armed.
/// A `cancellation` (requested by another coroutine, say on shutdown) disarms it: next() then
/// yields operation_canceled once the kernel's last completion has arrived, and stop() waits
/// for that from anywhere. Connections still queued are closed. Used on the thread of its
/// event loop only; does not own the listening socket.
class accept_stream : private detail::io_request {
 public:
  /// Connections waiting in the queue at which the stream stops asking the kernel for more.
  static constexpr std::size_t k_pause_at = 128;
  /// How often an armed multishot request's descriptor limit is compared with the current one.
  static constexpr std::chrono::milliseconds k_limit_check{100};

  /// Prepares to accept on `listen_fd` the `preferred` way (subject to the kernel and the
  /// environment, above); nothing is submitted until the first next(). `cancel` may be null;
  /// it is shared with nothing else while the stream is armed.
  explicit accept_stream(int listen_fd, cancellation* cancel = nullptr,
                         accept_mode preferred = accept_mode::multishot);
  accept_stream(const accept_stream&) = delete;
  accept_stream& operator=(const accept_stream&) = delete;
  /// Closes the connections still queued. Asserts that the request is not armed.
  ~accept_stream();

  /// Returns true when a multishot request is used, false for single-shot accepts.
  [[nodiscard]] bool multishot() const noexcept { return m_multishot; }

  /// Returns true while a request is in the kernel (its last completion has not arrived).
  [[nodiscard]] bool armed() const noexcept { return m_armed; }

  /// Returns how many connections (and errors) wait to be taken by next().
  [[nodiscard]] std::size_t queued() const noexcept { return m_ready.size(); }

  /// Awaiter of next(): yields the next connection (close-on-exec) and its peer address, an
  /// accept error (EMFILE, ENFILE, ECONNABORTED, ENOMEM, ...), or operation_canceled after
  /// cancellation, once disarmed. Throws std::system_error only when the ring itself fails.
  class next_awaiter {
   public:
    explicit next_awaiter(accept_stream& stream) noexcept : m_stream(stream) {}
    [[nodiscard]] bool await_ready();
    void await_suspend(std::coroutine_handle<> waiter) noexcept;
    result<accepted> await_resume();

   private:
    accept_stream& m_stream;
  };

  /// Returns an awaiter for the next connection; one coroutine at a time may wait.
  [[nodiscard]] next_awaiter next() noexcept { return next_awaiter(*this); }

  /// Awaiter of stop(): cancels the request if armed and resumes after its last completion.
  class stop_awaiter {
   public:
    explicit stop_awaiter(accept_stream& stream) noexcept : m_stream(stream) {}
    [[nodiscard]] bool await_ready();
    void await_suspend(std::coroutine_handle<> waiter) noexcept;
    void await_resume() noexcept;

   private:
    accept_stream& m_stream;
  };

  /// Returns an awaiter that disarms the stream (if armed) and closes queued connections;
  /// after it the stream may be destroyed. Not to be awaited while next() is awaited.
  [[nodiscard]] stop_awaiter stop() noexcept { return stop_awaiter(*this); }

 private:
  static void on_complete(operation& self, int res, std::uint32_t flags) noexcept;
  void arm();
  void close_queued() noexcept;
  [[nodiscard]] bool cancel_requested() const noexcept;
  [[nodiscard]] bool limit_lowered(int accepted_fd) noexcept;
  void pause() noexcept;

  cancellation* m_cancel;
  bool m_multishot;
  bool m_armed = false;
  bool m_pausing = false;   // this stream cancelled its own request (full queue, lower limit)
  bool m_stopping = false;  // stop() was awaited: nothing more is accepted
  // Descriptors (>= 0) and negated errno values, oldest first.
  std::deque<int> m_ready;
  std::coroutine_handle<> m_waiter;
  // Single-shot only: the kernel writes the peer's address here. A multishot request is
  // given none, as every connection it accepts would overwrite the same buffer before the
  // completions are read; next() asks getpeername() instead.
  sockaddr_storage m_address{};
  // Multishot only: the soft RLIMIT_NOFILE when the request was armed, and when it was last
  // compared with the current one.
  std::uint64_t m_armed_limit = 0;
  std::chrono::steady_clock::time_point m_limit_checked{};
  int m_highest_fd = -1;  // the highest descriptor accepted since it was armed
};

}  // namespace ringline::runtime

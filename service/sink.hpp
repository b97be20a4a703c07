#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::service {

/// Where received lines go before they are acknowledged: stdout, a file, or nowhere.
///
/// Lines from every session of a loop are copied into one pending buffer and written by a
/// single writer coroutine (run()), so lines never interleave mid-line and one write covers
/// many sessions (group commit). A session waits on append() until its lines are written,
/// then acks them. Lives on one event loop; not thread-safe.
class sink {
 public:
  /// Opens `spec`: "stdout", "none", or a file path, created if missing and always appended
  /// to. With `durable`, every group of lines is flushed to disk (fdatasync) before any of
  /// them is acknowledged; only a file can be durable. A file whose last line was torn by a crash
  /// (no final '\n') is cut back to its last complete line first; repaired_bytes() tells how much
  /// was cut. Returns the errno of the open, read or truncate that failed.
  static runtime::result<std::unique_ptr<sink>> open(const std::string& spec, bool durable = false);

  sink(runtime::unique_fd owned, int fd, bool discard) noexcept;
  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;
  ~sink();

  /// Awaitable returned by append(): completes when the lines are written, with the write
  /// error if the sink has failed (the lines must then not be acknowledged).
  class append_awaiter {
   public:
    append_awaiter(sink& target, std::uint64_t ticket) noexcept
        : m_sink(target), m_ticket(ticket) {}
    [[nodiscard]] bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> waiter);
    [[nodiscard]] runtime::result<void> await_resume() const noexcept { return m_error; }

   private:
    sink& m_sink;
    std::uint64_t m_ticket;
    std::error_code m_error;
  };

  /// Copies `lines`, each followed by '\n', into the pending buffer at once (the views may
  /// die right after the call) and returns an awaitable for their write.
  [[nodiscard]] append_awaiter append(std::span<const std::string_view> lines);

  /// The writer: writes pending lines until stop() and returns once all of them are out (or
  /// the sink failed). Spawn it once on the loop that calls append().
  runtime::task<void> run();

  /// Asks run() to finish after writing what is pending.
  void stop() noexcept;

  /// Cancels the write in progress (a stdout pipe nobody reads blocks forever): run() ends,
  /// and every waiting and later append fails, so none of those lines is acknowledged.
  void abort() noexcept;

  /// Returns true when acks wait for fdatasync.
  [[nodiscard]] bool durable() const noexcept { return m_durable; }

  /// Returns the bytes cut from a torn last line at open.
  [[nodiscard]] std::uint64_t repaired_bytes() const noexcept { return m_repaired; }

  /// Returns the first write error, or a zero code.
  [[nodiscard]] std::error_code failure() const noexcept { return m_failed; }

 private:
  struct waiter {
    std::uint64_t ticket;
    std::coroutine_handle<> handle;
    std::error_code* error;
  };
  void wake_written() noexcept;
  void fail_all(std::error_code error) noexcept;

  runtime::unique_fd m_owned;
  int m_fd;
  bool m_discard;
  bool m_durable = false;
  std::uint64_t m_repaired = 0;
  std::string m_pending;
  std::string m_writing;
  std::uint64_t m_appended = 0;
  std::uint64_t m_written = 0;
  std::deque<waiter> m_waiters;
  runtime::event m_work;
  runtime::cancellation m_cancel;
  bool m_stopping = false;
  std::error_code m_failed;
};

}  // namespace ringline::service

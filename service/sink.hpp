#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
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

/// How a sink behaves beyond where its lines go.
struct sink_options {
  /// Acks wait for fdatasync of their group; only a regular file can be durable.
  bool durable = false;
  /// The server's --max-line-bytes: bounds the torn line a file repair may cut.
  std::size_t max_line_bytes = 65536;
  /// How long an append may wait for its write (zero: no limit). A stdout pipe nobody reads
  /// blocks the writer forever; without a limit every session waiting on it would too.
  std::chrono::milliseconds timeout{0};
  /// Bytes that may wait for the writer. Sessions wait for their own lines before reading
  /// more, so this is only reached while the writer is stuck; appends beyond it fail at once
  /// instead of growing the buffer without bound.
  std::size_t pending_limit = std::size_t{8} << 20;
};

/// Where received lines go before they are acknowledged: stdout, a file, or nowhere.
///
/// Lines from every session of a loop are copied into one pending buffer and written by a
/// single writer coroutine (run()), so lines never interleave mid-line and one write covers
/// many sessions (group commit). A session waits on append() until its lines are written,
/// then acks them. Lives on one event loop; not thread-safe.
class sink {
 public:
  /// Opens `spec`: "stdout", "none", or a file path, created if missing and always appended
  /// to, locked against a second server, and repaired when a crash left a torn last line
  /// (service/sink_file.hpp). Returns the error, with a line for the operator in `why`.
  static runtime::result<std::unique_ptr<sink>> open(const std::string& spec, sink_options options,
                                                     std::string& why);
  /// As above, with default options and no message; for tests and tools.
  static runtime::result<std::unique_ptr<sink>> open(const std::string& spec, bool durable = false);

  sink(runtime::unique_fd owned, int fd, bool discard, const sink_options& options) noexcept;
  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;
  ~sink();

  /// Awaitable returned by append(): completes when the lines are written, or with an error
  /// when they will not be acknowledged: the write error once the sink has failed,
  /// std::errc::timed_out after sink_options::timeout, std::errc::no_buffer_space when the
  /// pending limit was reached, std::errc::operation_canceled after abort().
  class append_awaiter {
   public:
    append_awaiter(sink& target, std::uint64_t ticket, std::error_code error) noexcept
        : m_sink(target), m_ticket(ticket), m_error(error) {}
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
  /// the sink failed, or abort()). Spawn it once on the loop that calls append().
  runtime::task<void> run();

  /// Ends the appends that waited longer than sink_options::timeout. Spawn it once next to
  /// run(); it returns after stop() or abort().
  runtime::task<void> expire_waiters();

  /// Asks run() to finish after writing what is pending.
  void stop() noexcept;

  /// Cancels the write in progress (a stdout pipe nobody reads blocks forever): run() ends,
  /// and every waiting and later append fails, so none of those lines is acknowledged.
  void abort() noexcept;

  /// Returns true when acks wait for fdatasync.
  [[nodiscard]] bool durable() const noexcept { return m_options.durable; }

  /// Returns the bytes cut from a torn last line at open.
  [[nodiscard]] std::uint64_t repaired_bytes() const noexcept { return m_repaired; }

  /// Returns the first write error, or a zero code.
  [[nodiscard]] std::error_code failure() const noexcept { return m_failed; }

 private:
  using clock = std::chrono::steady_clock;
  struct waiter {
    std::uint64_t ticket;
    clock::time_point deadline;
    std::coroutine_handle<> handle;
    std::error_code* error;
  };
  void wake_written() noexcept;
  void fail_all(std::error_code error) noexcept;

  runtime::unique_fd m_owned;
  int m_fd;
  bool m_discard;
  sink_options m_options;
  bool m_marked = false;
  std::uint64_t m_repaired = 0;
  std::string m_pending;
  std::string m_writing;
  std::uint64_t m_appended = 0;
  std::uint64_t m_written = 0;
  std::deque<waiter> m_waiters;
  runtime::event m_work;
  runtime::event m_waiting;  // set when the first waiter arrives, for expire_waiters()
  runtime::cancellation m_cancel;
  runtime::cancellation m_stop_expiry;
  bool m_stopping = false;
  std::error_code m_failed;
};

}  // namespace ringline::service

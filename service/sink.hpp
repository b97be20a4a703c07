#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/types.h>
#include <thread>
#include <vector>

#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/inbox.hpp"
#include "runtime/io.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"
#include "service/sink_metrics.hpp"

namespace ringline::service {

struct sink_file;

/// How a sink behaves beyond where its lines go.
struct sink_options {
  /// Acks wait for fdatasync of their group; only a regular file can be durable.
  bool durable = false;
  /// The server's --max-line-bytes: bounds the torn line a file repair may cut.
  std::size_t max_line_bytes = 65536;
  /// --sink-follow-symlinks: open a sink path that is a symbolic link (at start and on every
  /// reopen); refused without it.
  bool follow_symlinks = false;
  /// How long an append may wait for its write (zero: no limit). A stdout pipe nobody reads
  /// blocks the writer forever; without a limit every session waiting on it would too.
  std::chrono::milliseconds timeout{0};
  /// Bytes that may wait for the writer. Sessions wait for their own lines before reading
  /// more, so this is only reached while the writer is stuck; appends beyond it fail at once
  /// instead of growing the buffer without bound.
  std::size_t pending_limit = std::size_t{8} << 20;
  /// Durable only: the longest the writer waits for the sessions it just acked to send again
  /// before the next write, and never longer than the last flush took.
  std::chrono::microseconds gather_limit{2000};
  /// Tests only: wait up to gather_limit whatever the last flush took, so that a test on a
  /// fast disk (tmpfs) sees the gather at all.
  bool gather_limit_fixed = false;
};

/// Where received lines go before they are acknowledged: stdout, a file, or nowhere.
///
/// Lines from every session of every loop thread are copied into one pending buffer and
/// written by a single writer coroutine (run()), so lines never interleave mid-line and one
/// write (and, durable, one fdatasync) covers many sessions across threads (group commit). A
/// session waits on append() until its lines are written, then acks them.
///
/// Threads: the sink belongs to the thread that constructs it (the writer's thread): run(),
/// expire_waiters(), stop() and set_writer_inbox() are called there. append() may be called
/// from any loop thread whose inbox is running (runtime::inbox::current()); abort() from any
/// thread. A mutex guards the pending buffer, the tickets and the waiters; it is never held
/// across a suspension. The writer is woken through its inbox only when it is idle, and the
/// waiters of another thread are resumed through that thread's inbox, one batch per write.
/// A discarding sink (`none`) completes every append at once and touches no lock.
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
    append_awaiter(sink& target, std::uint64_t ticket, std::error_code error,
                   std::uint64_t failures_seen = 0) noexcept
        : m_sink(target), m_ticket(ticket), m_error(error), m_failures_seen(failures_seen) {}
    append_awaiter(const append_awaiter&) = delete;
    append_awaiter& operator=(const append_awaiter&) = delete;
    /// A frame destroyed while it waits (its loop shut down) leaves the waiters first.
    ~append_awaiter();
    [[nodiscard]] bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> waiter);
    [[nodiscard]] runtime::result<void> await_resume() noexcept {
      m_suspended = false;
      return m_error;
    }

   private:
    friend class sink;
    sink& m_sink;
    std::uint64_t m_ticket;
    std::error_code m_error;
    std::uint64_t m_failures_seen;  // the sink's failed writes when the lines were appended
    bool m_suspended = false;       // this thread's view: true from suspension to resumption
    bool m_queued = false;          // guarded by the sink's mutex: still in its waiter list
  };

  /// Copies `lines`, each followed by '\n', into the pending buffer at once (the views may
  /// die right after the call) and returns an awaitable for their write.
  [[nodiscard]] append_awaiter append(std::span<const std::string_view> lines);

  /// Sets the inbox of the writer's loop, through which appends on other threads wake the
  /// writer. Needed only when other threads append; call before they start.
  void set_writer_inbox(runtime::inbox* writer_inbox) noexcept { m_writer_inbox = writer_inbox; }

  /// The writer: writes pending lines until stop() and returns once all of them are out (or
  /// the sink failed, or abort()). Spawn it once on the writer's thread.
  runtime::task<void> run();

  /// Ends the appends that waited longer than sink_options::timeout. Spawn it once next to
  /// run(); it returns after stop() or abort().
  runtime::task<void> expire_waiters();

  /// Checks once a second (one fstat) whether a file sink was deleted; if so, has the writer
  /// reopen its path, and while that fails the sink counts as failing (failure(), /health
  /// 503) and appends are refused. Spawn it once next to run(); it returns after stop() or
  /// abort(), at once for stdout and none.
  runtime::task<void> watch_file();

  /// Asks run() to finish after writing what is pending.
  void stop() noexcept;

  /// Cancels the write in progress (a stdout pipe nobody reads blocks forever): run() ends,
  /// and every waiting and later append fails, so none of those lines is acknowledged. From
  /// another thread it is handed to the writer's inbox and takes effect there shortly after.
  void abort() noexcept;

  /// Tells the sink that a session ended, so that a durable writer gathering the next group
  /// (see docs/architecture.md) stops waiting for it. Any thread; nothing for other sinks.
  void leave() noexcept;

  /// Returns true when acks wait for fdatasync.
  [[nodiscard]] bool durable() const noexcept { return m_options.durable; }

  /// Returns the bytes cut from a torn last line at open.
  [[nodiscard]] std::uint64_t repaired_bytes() const noexcept { return m_repaired; }

  /// Returns the first write error, or a zero code. Any thread.
  [[nodiscard]] std::error_code failure() const;

  /// Asks the writer to reopen a file sink by its path once the write in progress is done,
  /// for log rotation: lines acknowledged before the call are in the old file, the ones
  /// written after it in the new one, none in both. With --durable the old file is flushed
  /// before it is closed. If the path cannot be opened, the writer logs why and keeps
  /// writing to the old file. Returns false (and does nothing) for stdout and none. Any
  /// thread.
  bool reopen();

  /// Returns what the writer did so far. The writer's thread only (the main one).
  [[nodiscard]] const sink_metrics& metrics() const noexcept { return m_metrics; }

 private:
  using clock = std::chrono::steady_clock;
  struct waiter {
    std::uint64_t ticket;
    clock::time_point deadline;
    std::coroutine_handle<> handle;
    append_awaiter* awaiter;
    runtime::inbox* home;  // null: the writer's own thread
  };
  class work_awaiter;
  [[nodiscard]] bool on_writer_thread() const noexcept {
    return std::this_thread::get_id() == m_writer_thread;
  }
  // With the mutex held: takes waiters out of the list (all of them, or those written), giving
  // each `error`, into m_waking.
  void take_waiters_locked(bool all, std::error_code error);
  // Without the mutex: resumes what take_waiters_locked() took, one batch per inbox.
  void resume_taken() noexcept;
  // Wakes a coroutine of the writer's loop (the writer, the expiry) from any thread.
  void wake_on_writer(std::coroutine_handle<> handle) noexcept;
  runtime::task<void> reopen_file();
  // The file was deleted and its path cannot be opened again: fail the waiting lines, refuse
  // new ones, and try to open the path every second until it works (or stop()).
  runtime::task<void> wait_for_path(std::error_code error, std::string why);
  // Makes `file` the one written to from now on; returns the bytes written to the old one.
  std::uint64_t switch_to(sink_file& file);
  // With the lines written so far kept and acked: fails the waiting ones with `error` and
  // refuses new ones (failure() reports `error`) until m_unavailable is cleared.
  void start_refusing(std::error_code error);
  // Logs at warn what a write to a deleted file did.
  void report_deleted(std::uint64_t written);
  // After a failed write to a file: cut it back to its last whole line, fail the waiting
  // lines, refuse new ones, and try every second until there is room again.
  runtime::task<void> ride_out_failure(std::error_code error);
  // Whether a batch of m_probe_bytes would fit again.
  [[nodiscard]] bool probe_room() const noexcept;
  runtime::task<runtime::result<void>> write_and_sync_each_line(runtime::io_options io);
  void fail_all(std::error_code error) noexcept;
  // Durable group commit: before writing, waits for the sessions the last flush acked to send
  // again, at most as long as that flush took, so that the next flush covers them too.
  runtime::task<void> gather();
  // Ends the gather numbered `generation` early, if it is still the one going on. Writer's thread.
  void end_gather(std::uint64_t generation) noexcept;
  // Without the mutex: ends that gather on the writer's thread, posting there if need be.
  void end_gather_from_any_thread(std::uint64_t generation) noexcept;
  // With the mutex held: returns the gather that now has every session it waits for (and
  // marks it over), or 0.
  std::uint64_t gathered_locked() noexcept;

  runtime::unique_fd m_owned;
  int m_fd;
  bool m_discard;
  sink_options m_options;
  bool m_marked = false;
  std::uint64_t m_repaired = 0;
  std::thread::id m_writer_thread = std::this_thread::get_id();
  runtime::inbox* m_writer_inbox = nullptr;
  std::string m_writing;  // the writer's own
  bool m_write_in_flight = false;
  runtime::cancellation m_cancel;
  runtime::cancellation m_stop_expiry;
  runtime::cancellation m_stop_watch;  // ends watch_file(), with m_stop_expiry
  // The writer's scratch, reused: waiters taken under the mutex, resumed after it.
  std::vector<waiter> m_waking;
  std::vector<std::coroutine_handle<>> m_batch;

  mutable std::mutex m_mutex;  // guards everything below
  std::string m_pending;
  std::uint64_t m_appended = 0;
  std::uint64_t m_written = 0;
  std::deque<waiter> m_waiters;
  std::coroutine_handle<> m_idle_writer;  // set while run() waits for work
  std::coroutine_handle<> m_idle_expiry;  // set while expire_waiters() waits for a waiter
  bool m_stopping = false;
  std::error_code m_failed;
  sink_metrics m_metrics;                  // the writer's thread only
  std::string m_path;                      // a file sink's path, for reopen()
  bool m_reopen = false;                   // guarded by m_mutex: reopen() was asked for
  std::uint64_t m_written_since_open = 0;  // the writer's thread only
  // A regular file's size up to its last whole written line, or -1 for pipes and devices.
  off_t m_good_size = -1;
  std::error_code m_unavailable;  // guarded by m_mutex: set while a failed file is retried
  // Guarded by m_mutex: failed writes a file sink rode out, what was written before the last
  // one, and its error. An append awaited only after a failure tells from these whether its
  // lines were written before it or dropped by it.
  std::uint64_t m_failures = 0;
  std::uint64_t m_written_before_failure = 0;
  std::error_code m_last_failure;
  runtime::cancellation m_retry_cancel;
  static constexpr std::chrono::seconds k_retry_interval{1};
  // The writer's: room the recovery probe asks for, the size of the batch that failed (a
  // smaller probe succeeds on a nearly full disk, and the next batch fails again).
  off_t m_probe_bytes = 4096;
  // The writer's: m_metrics.bytes at watch_file()'s last look, to tell what a deletion lost.
  std::uint64_t m_bytes_at_check = 0;
  static constexpr std::chrono::seconds k_watch_interval{1};
  bool m_sync_each_line = false;  // bench/durable's naive baseline
  bool m_dsync_writes = true;     // the writer's: durable writes flush themselves (RWF_DSYNC)
  // The gather (durable only, see gather()).
  clock::duration m_last_flush{};                    // the writer's thread only
  runtime::cancellation* m_gather_cancel = nullptr;  // the writer's thread only
  std::size_t m_expected = 0;                        // guarded: sessions the next group waits for
  std::uint64_t m_gathering = 0;          // guarded: the gather going on (its generation), or 0
  std::uint64_t m_gather_generation = 0;  // guarded; changed on the writer's thread only
};

}  // namespace ringline::service

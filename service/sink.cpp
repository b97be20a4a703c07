#include "service/sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "service/sink_file.hpp"

namespace ringline::service {

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, sink_options options,
                                                  std::string& why) {
  if (options.durable && (spec == "none" || spec == "stdout")) {
    why = "--durable needs a file sink (--sink PATH)";
    return std::errc::invalid_argument;  // only a file can be flushed to disk
  }
  if (spec == "none") {
    return std::make_unique<sink>(runtime::unique_fd(), -1, true, options);
  }
  if (spec == "stdout") {
    return std::make_unique<sink>(runtime::unique_fd(), STDOUT_FILENO, false, options);
  }
  auto file = open_sink_file(spec,
                             sink_file_checks{.max_line_bytes = options.max_line_bytes,
                                              .durable = options.durable,
                                              .follow_symlinks = options.follow_symlinks,
                                              .current = nullptr},
                             why);
  if (!file) {
    return file.error();
  }
  const int raw = file->fd.get();
  auto opened = std::make_unique<sink>(std::move(file->fd), raw, false, options);
  opened->m_repaired = file->repaired_bytes;
  opened->m_marked = file->marked;
  opened->m_path = spec;
  // Read at start, before any other thread exists.
  const char* naive =
      std::getenv("RINGLINE_BENCH_SYNC_EACH_LINE");  // NOLINT(concurrency-mt-unsafe)
  opened->m_sync_each_line = options.durable && naive != nullptr && std::string_view(naive) == "1";
  struct stat status {};
  if (::fstat(raw, &status) == 0 && S_ISREG(status.st_mode)) {
    opened->m_good_size = status.st_size;
  }
  return opened;
}

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, bool durable) {
  std::string why;
  return open(spec, sink_options{.durable = durable}, why);
}

sink::sink(runtime::unique_fd owned, int fd, bool discard, const sink_options& options) noexcept
    : m_owned(std::move(owned)), m_fd(fd), m_discard(discard), m_options(options) {}

sink::~sink() = default;

std::error_code sink::failure() const {
  const std::lock_guard lock(m_mutex);
  return m_failed ? m_failed : m_unavailable;
}

// Suspends the writer until there is work (pending lines, stop(), abort()).
class sink::work_awaiter {
 public:
  explicit work_awaiter(sink& owner) noexcept : m_sink(owner) {}
  [[nodiscard]] bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> writer) {
    const std::lock_guard lock(m_sink.m_mutex);
    if (!m_sink.m_pending.empty() || m_sink.m_stopping || m_sink.m_failed || m_sink.m_reopen) {
      return false;
    }
    m_sink.m_idle_writer = writer;
    return true;
  }
  void await_resume() const noexcept {}

 private:
  sink& m_sink;
};

void sink::wake_on_writer(std::coroutine_handle<> handle) noexcept {
  assert((on_writer_thread() || m_writer_inbox != nullptr) &&
         "append() from another thread needs set_writer_inbox()");
  if (on_writer_thread() || m_writer_inbox == nullptr) {
    runtime::event_loop::current().post(handle);
  } else {
    m_writer_inbox->post(handle);
  }
}

runtime::task<runtime::result<void>> sink::write_and_sync_each_line(runtime::io_options io) {
  std::string_view rest = m_writing;
  while (!rest.empty()) {
    const auto line = rest.substr(0, rest.find('\n') + 1);
    rest.remove_prefix(line.size());
    if (auto wrote = co_await runtime::write_all(m_fd, line, io); !wrote) {
      co_return wrote.error();
    }
    if (auto flushed = co_await runtime::datasync(m_fd, io); !flushed) {
      co_return flushed.error();
    }
    ++m_metrics.writes;
    ++m_metrics.flushes;
  }
  co_return runtime::result<void>{};
}

runtime::task<void> sink::run() {
  for (;;) {
    bool idle = false;
    bool reopen_now = false;
    {
      const std::lock_guard lock(m_mutex);
      reopen_now = std::exchange(m_reopen, false) && !m_failed;
    }
    if (reopen_now) {
      // Before the pending lines: none of them is acknowledged yet, so they belong to the
      // new file.
      co_await reopen_file();
      continue;
    }
    {
      const std::lock_guard lock(m_mutex);
      if (m_pending.empty() || m_failed) {
        if (m_stopping || m_failed) {
          break;
        }
        idle = true;
      } else {
        m_writing.swap(m_pending);
        m_pending.clear();
      }
    }
    if (m_discard) {
      break;
    }
    if (idle) {
      co_await work_awaiter(*this);
      continue;
    }
    if (m_options.durable && !m_sync_each_line) {
      co_await gather();
      const std::lock_guard lock(m_mutex);
      m_writing.append(m_pending);  // what came while gathering
      m_pending.clear();
    }
    const runtime::io_options io{.timeout = {}, .cancel = &m_cancel};
    m_write_in_flight = true;
    if (m_sync_each_line) {
      // The naive durable path bench/durable compares against: every line written and
      // flushed on its own. Never the default (RINGLINE_BENCH_SYNC_EACH_LINE=1 only).
      auto wrote_each = co_await write_and_sync_each_line(io);
      m_write_in_flight = false;
      if (!wrote_each) {
        fail_all(wrote_each.error());
        break;
      }
      const std::lock_guard lock(m_mutex);
      m_written += m_writing.size();
      take_waiters_locked(false, {});
      m_writing.clear();
    }
    if (m_writing.empty()) {
      resume_taken();
      continue;
    }
    // Durable: one request that writes and flushes (RWF_DSYNC) where the file allows it,
    // which saves the flush's own trip through the kernel's worker threads.
    const bool synced_write = m_options.durable && m_dsync_writes;
    auto started = clock::now();
    auto wrote = co_await runtime::write_all(
        m_fd, m_writing, io, synced_write ? runtime::write_sync::data : runtime::write_sync::none);
    if (!wrote && synced_write &&
        (wrote.error() == std::errc::invalid_argument ||
         wrote.error() == std::errc::operation_not_supported)) {
      // Refused before anything was written: a write and an fdatasync from now on.
      m_dsync_writes = false;
      runtime::log(runtime::log_level::debug,
                   fmt::format("sink: synced writes refused ({}); flushing with fdatasync",
                               wrote.error().message()));
      started = clock::now();
      wrote = co_await runtime::write_all(m_fd, m_writing, io);
    }
    if (wrote) {
      const auto took = clock::now() - started;
      m_metrics.write_time.record(took);
      ++m_metrics.writes;
      m_metrics.bytes += m_writing.size();
      m_written_since_open += m_writing.size();
      if (synced_write && m_dsync_writes) {
        m_last_flush = took;
        m_metrics.flush_time.record(took);
        ++m_metrics.flushes;
      }
    }
    if (wrote && m_options.durable && !m_dsync_writes) {
      // One flush for the whole group: every session whose lines are in it, on whatever
      // thread, waits for the same fdatasync, which is what makes durable acks affordable.
      started = clock::now();
      wrote = co_await runtime::datasync(m_fd, io);
      if (wrote) {
        m_last_flush = clock::now() - started;
        m_metrics.flush_time.record(m_last_flush);
        ++m_metrics.flushes;
      }
    }
    m_write_in_flight = false;
    if (!wrote) {
      ++m_metrics.failures;
      std::size_t unwritten = m_writing.size();
      {
        const std::lock_guard lock(m_mutex);
        unwritten += m_pending.size();
      }
      if (runtime::is_cancelled(wrote.error())) {
        // abort() at the end of the shutdown grace: nothing failed, the time was up.
        runtime::log_line(
            fmt::format("sink: stopped with {} bytes unwritten at the end of the "
                        "shutdown grace; none of them was acknowledged",
                        unwritten));
        fail_all(wrote.error());
        break;
      }
      if (m_good_size < 0) {
        // A pipe or a device: nothing to cut back, and no way to try it without data.
        runtime::log_line(fmt::format("sink: write failed: {}; no further line can be acknowledged",
                                      wrote.error().message()));
        fail_all(wrote.error());
        break;
      }
      co_await ride_out_failure(wrote.error());
      continue;
    }
    if (m_good_size >= 0) {
      m_good_size += static_cast<off_t>(m_writing.size());
    }
    {
      const std::lock_guard lock(m_mutex);
      m_written += m_writing.size();
      take_waiters_locked(false, {});
      // The sessions just acked and those already waiting on the next group: what the
      // next gather waits for.
      m_expected = m_waking.size() + m_waiters.size();
    }
    m_writing.clear();
    resume_taken();
  }
  if (!failure() && m_marked) {
    // Everything is written and the file ends with a whole line: no repair is owed.
    sink_file_unmark(m_fd);
  }
  m_stop_expiry.request();
  m_stop_watch.request();
  std::coroutine_handle<> expiry;
  {
    const std::lock_guard lock(m_mutex);
    expiry = std::exchange(m_idle_expiry, nullptr);
  }
  if (expiry) {
    wake_on_writer(expiry);
  }
}

void sink::abort() noexcept {
  if (!on_writer_thread() && m_writer_inbox != nullptr) {
    try {
      m_writer_inbox->post([this] { abort(); });
      return;
    } catch (const std::bad_alloc&) {
      // Without memory for the hand-off the cancellation cannot reach the writer; the
      // shutdown grace's own abort on the writer's thread still will.
      return;
    }
  }
  m_cancel.request();
  m_stop_expiry.request();
  m_stop_watch.request();
  m_retry_cancel.request();
  std::uint64_t gathering = 0;
  {
    const std::lock_guard lock(m_mutex);
    gathering = std::exchange(m_gathering, 0);
  }
  if (gathering != 0) {
    end_gather(gathering);
  }
  if (!m_write_in_flight) {
    // No write in flight to report the cancellation: fail the waiting appends here.
    fail_all(std::make_error_code(std::errc::operation_canceled));
  }
  std::coroutine_handle<> expiry;
  {
    const std::lock_guard lock(m_mutex);
    expiry = std::exchange(m_idle_expiry, nullptr);
  }
  if (expiry) {
    wake_on_writer(expiry);
  }
}

void sink::stop() noexcept {
  std::coroutine_handle<> writer;
  std::uint64_t gathering = 0;
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
    writer = std::exchange(m_idle_writer, nullptr);
    gathering = std::exchange(m_gathering, 0);
  }
  m_retry_cancel.request();  // a failing sink stops trying
  if (writer) {
    wake_on_writer(writer);
  }
  if (gathering != 0) {
    end_gather(gathering);
  }
}

}  // namespace ringline::service

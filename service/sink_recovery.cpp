// The sink's file lifecycle beyond plain writes: reopening by path for log rotation
// (SIGHUP), and riding out a failed write (cut back to the last whole line, refuse new lines,
// probe every second until there is room again).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "service/sink.hpp"
#include "service/sink_file.hpp"

namespace ringline::service {

bool sink::reopen() {
  if (m_path.empty()) {
    return false;
  }
  std::coroutine_handle<> writer;
  {
    const std::lock_guard lock(m_mutex);
    m_reopen = true;
    writer = std::exchange(m_idle_writer, nullptr);
  }
  if (writer) {
    wake_on_writer(writer);
  }
  return true;
}

runtime::task<void> sink::reopen_file() {
  if (m_options.durable) {
    // Everything acknowledged was flushed already; this covers the rest written since.
    (void)co_await runtime::datasync(m_fd, {.timeout = {}, .cancel = &m_cancel});
  }
  struct stat current {};
  const bool known = ::fstat(m_fd, &current) == 0;
  const bool deleted = known && current.st_nlink == 0;
  if (deleted) {
    report_deleted(m_metrics.bytes - m_bytes_at_check);
  }
  // Every check the start applies, again: the path may now name a symlink, a device, or
  // another user's file.
  std::string why;
  auto file = open_sink_file(m_path,
                             sink_file_checks{.max_line_bytes = m_options.max_line_bytes,
                                              .durable = m_options.durable,
                                              .follow_symlinks = m_options.follow_symlinks,
                                              .current = known ? &current : nullptr},
                             why);
  if (!file) {
    if (deleted) {
      co_await wait_for_path(file.error(), std::move(why));
      co_return;
    }
    runtime::log(runtime::log_level::warn,
                 fmt::format("sink: cannot reopen: {}; still writing to the old file", why));
    co_return;
  }
  if (file->same_file) {
    runtime::log_line(fmt::format(
        "sink {}: reopen found the same file (device {}:{}, inode {}): it was not renamed, so "
        "lines still go to it",
        m_path, major(current.st_dev), minor(current.st_dev), current.st_ino));
    co_return;
  }
  const auto written = switch_to(*file);
  runtime::log_line(fmt::format(
      "sink {}: reopened ({} bytes went to the previous file{})", m_path, written,
      file->repaired_bytes > 0
          ? fmt::format("; cut {} bytes of a torn last line of the new one", file->repaired_bytes)
          : std::string()));
}

std::uint64_t sink::switch_to(sink_file& file) {
  if (m_marked) {
    sink_file_unmark(m_fd);  // the old file ends with whole lines: no repair is owed
  }
  const auto written = std::exchange(m_written_since_open, 0);
  m_fd = file.fd.get();
  m_owned = std::move(file.fd);  // closes the old file, releasing its lock
  m_marked = file.marked;
  struct stat status {};
  m_good_size = ::fstat(m_fd, &status) == 0 && S_ISREG(status.st_mode) ? status.st_size : -1;
  return written;
}

void sink::report_deleted(std::uint64_t written) {
  runtime::log(runtime::log_level::warn,
               fmt::format("sink {}: the file being written was deleted; {} bytes were "
                           "acknowledged into it since the last check (at most {} ago) and are "
                           "gone with it; opening the path again",
                           m_path, written, runtime::format_duration(k_watch_interval, "")));
}

runtime::task<void> sink::watch_file() {
  if (m_path.empty()) {
    co_return;
  }
  // One fstat a second rather than one per write: the same cost under any load.
  while (co_await runtime::sleep_for(k_watch_interval, &m_stop_watch)) {
    bool refusing = false;
    {
      const std::lock_guard lock(m_mutex);
      refusing = static_cast<bool>(m_unavailable) || static_cast<bool>(m_failed);
    }
    struct stat info {};
    if (!refusing && ::fstat(m_fd, &info) == 0 && info.st_nlink == 0) {
      (void)reopen();  // the writer reopens the path, or refuses lines while it cannot
    } else {
      m_bytes_at_check = m_metrics.bytes;
    }
  }
}

void sink::start_refusing(std::error_code error) {
  // None of the lines not yet written is acknowledged: their sessions get "sink failed";
  // new connections get "sink unavailable" until m_unavailable is cleared.
  {
    const std::lock_guard lock(m_mutex);
    m_unavailable = error;
    m_pending.clear();
    // Appends not yet awaited compare their tickets against what was really written.
    ++m_failures;
    m_written_before_failure = m_written;
    m_last_failure = error;
    m_written = m_appended;
    take_waiters_locked(true, error);
  }
  m_writing.clear();
  resume_taken();
}

runtime::task<void> sink::wait_for_path(std::error_code error, std::string why) {
  start_refusing(error);
  runtime::log(runtime::log_level::warn,
               fmt::format("sink {}: {}; new connections get 'sink unavailable' until the path "
                           "can be opened again (tried every second)",
                           m_path, why));
  const auto since = clock::now();
  std::uint64_t attempts = 0;
  for (;;) {
    if (!co_await runtime::sleep_for(k_retry_interval, &m_retry_cancel)) {
      co_return;  // stop() or abort(): run() sees it and ends
    }
    ++attempts;
    auto file = open_sink_file(m_path,
                               sink_file_checks{.max_line_bytes = m_options.max_line_bytes,
                                                .durable = m_options.durable,
                                                .follow_symlinks = m_options.follow_symlinks,
                                                .current = nullptr},
                               why);
    if (file) {
      (void)switch_to(*file);
      break;
    }
  }
  {
    const std::lock_guard lock(m_mutex);
    m_unavailable = {};
  }
  m_bytes_at_check = m_metrics.bytes;
  ++m_metrics.recoveries;
  runtime::log(
      runtime::log_level::warn,
      fmt::format(
          "sink {}: opened the path again after {} ({} attempts); accepting lines", m_path,
          runtime::format_duration(
              std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - since), ""),
          attempts));
}

runtime::task<void> sink::ride_out_failure(std::error_code error) {
  // A write that failed half way left part of the batch in the file: cut it, so that the
  // file ends with the last whole line that was written (and acknowledged).
  struct stat before {};
  const bool sized = ::fstat(m_fd, &before) == 0;
  const bool cut = ::ftruncate(m_fd, m_good_size) == 0;
  const auto cut_error = cut ? std::error_code() : runtime::last_errno();
  const off_t beyond = sized && before.st_size > m_good_size ? before.st_size - m_good_size : 0;
  // Recovery means a batch like this one fits again; a page would fit long before it does.
  m_probe_bytes = std::max<off_t>(4096, static_cast<off_t>(m_writing.size()));
  const auto since = clock::now();
  start_refusing(error);
  std::string repair;
  if (cut) {
    repair = fmt::format("{} bytes cut back to the last whole line", beyond);
  } else if (sized && beyond == 0) {
    repair = fmt::format(
        "cutting back failed too ({}), but the file still ends with its last "
        "whole line",
        cut_error.message());
  } else {
    repair = fmt::format(
        "cutting back to the last whole line failed too ({}): {} bytes of unacknowledged lines "
        "stay at the end of the file until a retry cuts them",
        cut_error.message(), sized ? fmt::format("{}", beyond) : std::string("some"));
  }
  runtime::log(runtime::log_level::warn,
               fmt::format("sink: write failed: {}; {}; new connections get 'sink unavailable' "
                           "until a write succeeds (tried every second)",
                           error.message(), repair));
  std::uint64_t attempts = 0;
  for (;;) {
    if (!co_await runtime::sleep_for(k_retry_interval, &m_retry_cancel)) {
      co_return;  // stop() or abort(): run() sees it and ends
    }
    ++attempts;
    if (probe_room()) {
      break;
    }
  }
  {
    const std::lock_guard lock(m_mutex);
    m_unavailable = {};
  }
  ++m_metrics.recoveries;
  runtime::log_line(fmt::format(
      "sink: writing again after {} ({} attempts); accepting lines",
      runtime::format_duration(
          std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - since), ""),
      attempts));
}

bool sink::probe_room() const noexcept {
  // Room for the batch that failed means the next one gets through too: a smaller probe
  // succeeds on a nearly full disk, the next batch fails, and waiting sessions fail with it.
  // The probe leaves the file as it was: fallocate without KEEP_SIZE grows it, so cut it back.
  if (::fallocate(m_fd, 0, m_good_size, m_probe_bytes) == 0) {
    return ::ftruncate(m_fd, m_good_size) == 0;
  }
  if (errno != EOPNOTSUPP) {
    return false;
  }
  // A file system without fallocate: one byte written and cut again.
  const char probe = '\n';
  const bool wrote = ::write(m_fd, &probe, 1) == 1;
  return ::ftruncate(m_fd, m_good_size) == 0 && wrote;
}

}  // namespace ringline::service

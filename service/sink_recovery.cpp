// The sink's file lifecycle beyond plain writes: reopening by path for log rotation
// (SIGHUP), and riding out a failed write (cut back to the last whole line, refuse new lines,
// probe every second until there is room again).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  std::string why;
  auto file = open_sink_file(m_path, m_options.max_line_bytes, why);
  if (!file) {
    runtime::log_line(fmt::format("sink: cannot reopen: {}; still writing to the old file", why));
    co_return;
  }
  if (m_marked) {
    sink_file_unmark(m_fd);  // the old file ends with whole lines: no repair is owed
  }
  const auto written = std::exchange(m_written_since_open, 0);
  m_fd = file->fd.get();
  m_owned = std::move(file->fd);  // closes the old file, releasing its lock
  m_marked = file->marked;
  struct stat status {};
  m_good_size = ::fstat(m_fd, &status) == 0 && S_ISREG(status.st_mode) ? status.st_size : -1;
  runtime::log_line(fmt::format(
      "sink {}: reopened ({} bytes went to the previous file{})", m_path, written,
      file->repaired_bytes > 0
          ? fmt::format("; cut {} bytes of a torn last line of the new one", file->repaired_bytes)
          : std::string()));
}

runtime::task<void> sink::ride_out_failure(std::error_code error) {
  // A write that failed half way left part of the batch in the file: cut it, so that the
  // file ends with the last whole line that was written (and acknowledged).
  struct stat before {};
  const bool sized = ::fstat(m_fd, &before) == 0;
  const bool cut = ::ftruncate(m_fd, m_good_size) == 0;
  const auto removed =
      sized && cut && before.st_size > m_good_size ? before.st_size - m_good_size : 0;
  const auto since = clock::now();
  {
    // None of these lines is acknowledged: their sessions get "sink failed"; new
    // connections get "sink unavailable" until a write succeeds again.
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
  runtime::log_line(fmt::format(
      "sink: write failed: {}; {} bytes cut back to the last whole line; new connections get "
      "'sink unavailable' until a write succeeds (tried every second)",
      error.message(), removed));
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
  // Room for a page more at the end means a write of lines would get through again. The
  // probe leaves the file as it was: fallocate without KEEP_SIZE grows it, so cut it back.
  constexpr off_t k_probe_bytes = 4096;
  if (::fallocate(m_fd, 0, m_good_size, k_probe_bytes) == 0) {
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

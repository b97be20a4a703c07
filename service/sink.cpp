#include "service/sink.hpp"

#include <unistd.h>

#include <fmt/format.h>

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
  auto file = open_sink_file(spec, options.max_line_bytes, why);
  if (!file) {
    return file.error();
  }
  const int raw = file->fd.get();
  auto opened = std::make_unique<sink>(std::move(file->fd), raw, false, options);
  opened->m_repaired = file->repaired_bytes;
  opened->m_marked = file->marked;
  return opened;
}

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, bool durable) {
  std::string why;
  return open(spec, sink_options{.durable = durable}, why);
}

sink::sink(runtime::unique_fd owned, int fd, bool discard, const sink_options& options) noexcept
    : m_owned(std::move(owned)), m_fd(fd), m_discard(discard), m_options(options) {}

sink::~sink() = default;

sink::append_awaiter sink::append(std::span<const std::string_view> lines) {
  if (m_discard || m_failed) {
    return {*this, 0, m_failed};
  }
  if (!m_pending.empty() && m_pending.size() >= m_options.pending_limit) {
    return {*this, 0, std::make_error_code(std::errc::no_buffer_space)};
  }
  for (const auto line : lines) {
    m_pending.append(line);
    m_pending.push_back('\n');
  }
  m_appended = m_written + m_writing.size() + m_pending.size();
  m_work.set();
  return {*this, m_appended, {}};
}

bool sink::append_awaiter::await_ready() noexcept {
  if (m_error) {
    return true;
  }
  if (m_sink.m_failed) {
    m_error = m_sink.m_failed;
    return true;
  }
  return m_sink.m_discard || m_ticket <= m_sink.m_written;
}

void sink::append_awaiter::await_suspend(std::coroutine_handle<> waiter) {
  const auto deadline = m_sink.m_options.timeout.count() > 0
                            ? clock::now() + m_sink.m_options.timeout
                            : clock::time_point::max();
  m_sink.m_waiters.push_back({m_ticket, deadline, waiter, &m_error});
  m_sink.m_waiting.set();
}

runtime::task<void> sink::run() {
  for (;;) {
    if (m_pending.empty() || m_failed) {
      if (m_stopping || m_discard || m_failed) {
        break;
      }
      m_work.reset();
      co_await m_work;
      continue;
    }
    m_writing.swap(m_pending);
    m_pending.clear();
    const runtime::io_options io{.timeout = {}, .cancel = &m_cancel};
    auto wrote = co_await runtime::write_all(m_fd, m_writing, io);
    if (wrote && m_options.durable) {
      // One flush for the whole group: every session whose lines are in it waits for the
      // same fdatasync, which is what makes durable acks affordable.
      wrote = co_await runtime::datasync(m_fd, io);
    }
    if (!wrote) {
      const auto unwritten = m_writing.size() + m_pending.size();
      if (runtime::is_cancelled(wrote.error())) {
        // abort() at the end of the shutdown grace: nothing failed, the time was up.
        runtime::log_line(
            fmt::format("sink: stopped with {} bytes unwritten at the end of the "
                        "shutdown grace; none of them was acknowledged",
                        unwritten));
      } else {
        runtime::log_line(fmt::format("sink: write failed: {}; no further line can be acknowledged",
                                      wrote.error().message()));
      }
      m_failed = wrote.error();
      fail_all(wrote.error());
      break;
    }
    m_written += m_writing.size();
    m_writing.clear();
    wake_written();
  }
  if (!m_failed && m_marked) {
    // Everything is written and the file ends with a whole line: no repair is owed.
    sink_file_unmark(m_fd);
  }
  m_stop_expiry.request();
  m_waiting.set();
}

runtime::task<void> sink::expire_waiters() {
  if (m_options.timeout.count() == 0) {
    co_return;
  }
  while (!m_stop_expiry.requested()) {
    if (m_waiters.empty()) {
      m_waiting.reset();
      co_await m_waiting;
      continue;
    }
    const auto left = m_waiters.front().deadline - clock::now();
    if (left > clock::duration::zero()) {
      // Waiters queue in deadline order (one timeout for all, appended in time order), so only
      // the front one needs watching; a front that is written meanwhile just makes this wake
      // up early for nothing.
      if (!co_await runtime::sleep_for(left, &m_stop_expiry)) {
        break;
      }
      continue;
    }
    auto& loop = runtime::event_loop::current();
    const auto now = clock::now();
    while (!m_waiters.empty() && m_waiters.front().deadline <= now) {
      // The lines stay queued and may still be written, but are never acknowledged.
      *m_waiters.front().error = std::make_error_code(std::errc::timed_out);
      loop.post(m_waiters.front().handle);
      m_waiters.pop_front();
    }
  }
}

void sink::abort() noexcept {
  m_cancel.request();
  m_stop_expiry.request();
  if (m_writing.empty()) {
    // No write in flight to report the cancellation: fail the waiting appends here.
    m_failed = std::make_error_code(std::errc::operation_canceled);
    fail_all(m_failed);
    m_work.set();
  }
  m_waiting.set();
}

void sink::stop() noexcept {
  m_stopping = true;
  m_work.set();
}

void sink::wake_written() noexcept {
  // Tickets grow with every append, so the waiters are in ticket order.
  auto& loop = runtime::event_loop::current();
  while (!m_waiters.empty() && m_waiters.front().ticket <= m_written) {
    loop.post(m_waiters.front().handle);
    m_waiters.pop_front();
  }
}

void sink::fail_all(std::error_code error) noexcept {
  m_pending.clear();
  auto& loop = runtime::event_loop::current();
  for (auto& waiting : m_waiters) {
    *waiting.error = error;
    loop.post(waiting.handle);
  }
  m_waiters.clear();
}

}  // namespace ringline::service

#include "service/sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"

namespace ringline::service {

namespace {

// Finds the end of the last complete line; a crash mid-write can leave a torn tail after it,
// which was never acknowledged and would glue itself to the next line appended.
runtime::result<std::uint64_t> cut_torn_tail(int fd) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    return runtime::last_errno();
  }
  if (!S_ISREG(info.st_mode) || info.st_size == 0) {
    return std::uint64_t{0};
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  std::array<char, std::size_t{64} * 1024> block{};
  std::uint64_t end = size;
  std::uint64_t keep = 0;
  bool found = false;
  while (end > 0 && !found) {
    const std::uint64_t start = end > block.size() ? end - block.size() : 0;
    const auto length = static_cast<std::size_t>(end - start);
    const auto got = ::pread(fd, block.data(), length, static_cast<off_t>(start));
    if (got != static_cast<ssize_t>(length)) {
      return got < 0 ? runtime::last_errno() : runtime::errno_code(EIO);
    }
    const auto newline = std::find(std::make_reverse_iterator(block.data() + length),
                                   std::make_reverse_iterator(block.data()), '\n');
    if (newline.base() != block.data()) {
      keep = start + static_cast<std::uint64_t>(newline.base() - block.data());
      found = true;
    }
    end = start;
  }
  if (keep == size) {
    return std::uint64_t{0};
  }
  if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) {
    return runtime::last_errno();
  }
  return size - keep;
}

}  // namespace

runtime::result<std::unique_ptr<sink>> sink::open(const std::string& spec, bool durable) {
  if (durable && (spec == "none" || spec == "stdout")) {
    return std::errc::invalid_argument;  // only a file can be flushed to disk
  }
  if (spec == "none") {
    return std::make_unique<sink>(runtime::unique_fd(), -1, true);
  }
  if (spec == "stdout") {
    return std::make_unique<sink>(runtime::unique_fd(), STDOUT_FILENO, false);
  }
  runtime::unique_fd fd(::open(spec.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) {
    return runtime::last_errno();
  }
  auto cut = cut_torn_tail(fd.get());
  if (!cut) {
    return cut.error();
  }
  const int raw = fd.get();
  auto opened = std::make_unique<sink>(std::move(fd), raw, false);
  opened->m_repaired = *cut;
  opened->m_durable = durable;
  return opened;
}

sink::sink(runtime::unique_fd owned, int fd, bool discard) noexcept
    : m_owned(std::move(owned)), m_fd(fd), m_discard(discard) {}

sink::~sink() = default;

sink::append_awaiter sink::append(std::span<const std::string_view> lines) {
  if (m_discard || m_failed) {
    return {*this, 0};
  }
  for (const auto line : lines) {
    m_pending.append(line);
    m_pending.push_back('\n');
  }
  m_appended = m_written + m_writing.size() + m_pending.size();
  m_work.set();
  return {*this, m_appended};
}

bool sink::append_awaiter::await_ready() noexcept {
  if (m_sink.m_failed) {
    m_error = m_sink.m_failed;
    return true;
  }
  return m_sink.m_discard || m_ticket <= m_sink.m_written;
}

void sink::append_awaiter::await_suspend(std::coroutine_handle<> waiter) {
  m_sink.m_waiters.push_back({m_ticket, waiter, &m_error});
}

runtime::task<void> sink::run() {
  for (;;) {
    if (m_pending.empty() || m_failed) {
      if (m_stopping || m_discard || m_failed) {
        co_return;
      }
      m_work.reset();
      co_await m_work;
      continue;
    }
    m_writing.swap(m_pending);
    m_pending.clear();
    const runtime::io_options io{.timeout = {}, .cancel = &m_cancel};
    auto wrote = co_await runtime::write_all(m_fd, m_writing, io);
    if (wrote && m_durable) {
      // One flush for the whole group: every session whose lines are in it waits for the
      // same fdatasync, which is what makes durable acks affordable.
      wrote = co_await runtime::datasync(m_fd, io);
    }
    if (!wrote) {
      fail_all(wrote.error());
      co_return;
    }
    m_written += m_writing.size();
    m_writing.clear();
    wake_written();
  }
}

void sink::abort() noexcept {
  m_cancel.request();
  if (m_writing.empty()) {
    // No write in flight to report the cancellation: fail the waiting appends here.
    fail_all(std::make_error_code(std::errc::operation_canceled));
    m_work.set();
  }
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
  m_failed = error;
  runtime::log_line(
      fmt::format("sink: write failed: {}; no further line can be acknowledged", error.message()));
  m_pending.clear();
  auto& loop = runtime::event_loop::current();
  for (auto& waiting : m_waiters) {
    *waiting.error = error;
    loop.post(waiting.handle);
  }
  m_waiters.clear();
}

}  // namespace ringline::service

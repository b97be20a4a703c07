#include "client/window_source.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "runtime/error.hpp"
#include "runtime/io.hpp"

namespace ringline::client {

window_source::window_source(line_source& input, unacked_window& window)
    : m_input(input), m_window(window), m_wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!m_wake) {
    throw std::system_error(errno, std::system_category(), "eventfd");
  }
}

void window_source::fill_window() {
  while (!m_window.full() && m_read_ahead_at < m_read_ahead.size()) {
    const auto end = m_read_ahead.find('\n', m_read_ahead_at);
    const auto stop = end == std::string::npos ? m_read_ahead.size() : end + 1;
    m_window.push(m_read_ahead.substr(m_read_ahead_at, stop - m_read_ahead_at));
    m_read_ahead_at = stop;
  }
  if (m_read_ahead_at == m_read_ahead.size()) {
    m_read_ahead.clear();
    m_read_ahead_at = 0;
  }
}

runtime::task<runtime::result<std::size_t>> window_source::read_lines(
    std::string& out, std::size_t limit, runtime::cancellation* cancel) {
  for (;;) {
    fill_window();
    if (m_window.unsent() > 0) {
      co_return m_window.take_unsent(out, limit);
    }
    if (input_done()) {
      co_return std::size_t{0};
    }
    if (m_window.full()) {
      if (auto room = co_await wait_for_room(cancel); !room) {
        co_return room.error();
      }
      continue;
    }
    // The window has room and the read-ahead is empty (fill_window took all of it).
    auto count = co_await m_input.read_lines(m_read_ahead, limit, cancel);
    if (!count) {
      if (!runtime::is_cancelled(count.error())) {
        m_input_error = count.error();
      }
      co_return count.error();
    }
    if (*count == 0) {
      m_input_done = true;
    }
    m_lines_read += *count;
  }
}

runtime::task<runtime::result<void>> window_source::wait_for_room(runtime::cancellation* cancel) {
  // An eventfd rather than a runtime::event: the conversation stops its sender through
  // `cancel`, which only I/O operations honour, so the wait must be one.
  m_waiting = true;
  auto ready = co_await runtime::poll_readable(m_wake.get(), {.timeout = {}, .cancel = cancel});
  m_waiting = false;
  if (m_woken) {
    std::uint64_t value = 0;
    (void)!::read(m_wake.get(), &value, sizeof value);
    m_woken = false;
  }
  if (!ready) {
    co_return ready.error();
  }
  co_return runtime::result<void>{};
}

bool window_source::acknowledge() noexcept {
  if (!m_window.acknowledge()) {
    return false;
  }
  // One write per wait, not per ack: the waiting side only needs to know there is room.
  if (m_waiting && !m_woken) {
    const std::uint64_t one = 1;
    m_woken = ::write(m_wake.get(), &one, sizeof one) == static_cast<ssize_t>(sizeof one);
  }
  return true;
}

}  // namespace ringline::client

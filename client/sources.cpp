#include "client/sources.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "runtime/io.hpp"

namespace ringline::client {

runtime::task<runtime::result<std::size_t>> vector_source::read_lines(
    std::string& out, std::size_t limit, runtime::cancellation* /*cancel*/) {
  std::size_t count = 0;
  const std::size_t start = out.size();
  while (m_next < m_lines.size() && (count == 0 || out.size() - start < limit)) {
    out.append(m_lines[m_next++]);
    out.push_back('\n');
    ++count;
  }
  co_return count;
}

runtime::task<runtime::result<std::size_t>> fd_source::read_lines(std::string& out,
                                                                  std::size_t limit,
                                                                  runtime::cancellation* cancel) {
  std::vector<char> buffer(std::max<std::size_t>(limit, 4096));
  while (!m_eof) {
    auto got = co_await runtime::read_some(m_fd, buffer, {.timeout = {}, .cancel = cancel});
    if (!got && got.error() == std::errc::resource_unavailable_try_again) {
      // A non-blocking descriptor (inherited that way) reports EAGAIN instead of waiting.
      if (auto ready = co_await runtime::poll_readable(m_fd, {.timeout = {}, .cancel = cancel});
          !ready) {
        co_return ready.error();
      }
      continue;
    }
    if (!got) {
      co_return got.error();
    }
    if (*got == 0) {
      m_eof = true;
      break;
    }
    m_partial.append(buffer.data(), *got);
    const auto last_newline = m_partial.rfind('\n');
    if (last_newline != std::string::npos) {
      // Whole lines go out now; the unfinished tail waits for the rest of its line.
      const auto whole = m_partial.begin() + static_cast<std::ptrdiff_t>(last_newline + 1);
      const auto count = static_cast<std::size_t>(std::count(m_partial.begin(), whole, '\n'));
      out.append(m_partial.begin(), whole);
      m_partial.erase(m_partial.begin(), whole);
      co_return count;
    }
  }
  if (!m_partial.empty()) {
    out.append(m_partial);
    out.push_back('\n');
    m_partial.clear();
    co_return std::size_t{1};
  }
  co_return std::size_t{0};
}

runtime::result<std::uint64_t> count_lines(int fd) {
  std::vector<char> buffer(std::size_t{1} << 16);
  std::uint64_t lines = 0;
  off_t offset = 0;
  char last = '\n';
  for (;;) {
    const ssize_t got = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return std::error_code(errno, std::system_category());
    }
    if (got == 0) {
      break;
    }
    const auto end = buffer.begin() + got;
    lines += static_cast<std::uint64_t>(std::count(buffer.begin(), end, '\n'));
    last = *(end - 1);
    offset += got;
  }
  return last == '\n' ? lines : lines + 1;  // an unterminated last line is sent with a '\n'
}

}  // namespace ringline::client

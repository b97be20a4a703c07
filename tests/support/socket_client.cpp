#include "tests/support/socket_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "tests/support/deadline.hpp"

namespace ringline::test_support {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::system_category(), what);
}

/// Waits for `events` on `fd`; returns true if the socket is ready (or failed: the next
/// send or recv reports the error).
bool wait_ready(int fd, short events, int timeout_ms) {
  pollfd pfd{fd, events, 0};
  const int n = ::poll(&pfd, 1, timeout_ms);
  if (n < 0 && errno != EINTR) {
    throw_errno(errno, "poll socket");
  }
  return n > 0;
}

/// Fills `storage` with the IPv4 or IPv6 literal `host` (brackets allowed) and `port`; returns
/// its length. Throws std::system_error for anything but a literal.
socklen_t socket_address(std::string_view host, std::uint16_t port, sockaddr_storage& storage) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string literal(host);
  storage = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof *v4;
  }
  if (::inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof *v6;
  }
  throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                          fmt::format("not an IP literal: '{}'", literal));
}

}  // namespace

socket_client socket_client::connect(std::string_view host, std::uint16_t port,
                                     std::string_view source) {
  const std::string literal(host);
  sockaddr_storage storage{};
  const socklen_t length = socket_address(host, port, storage);
  unique_fd fd(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    throw_errno(errno, "socket");
  }
  // Tests send small pieces and wait for replies; Nagle plus delayed ACK would add 40 ms
  // stalls between them.
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!source.empty()) {
    sockaddr_storage from{};
    const socklen_t from_length = socket_address(source, 0, from);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), from_length) != 0) {
      throw_errno(errno, fmt::format("bind to {}", source));
    }
  }
  // A blocking connect() interrupted by a signal keeps going in the kernel; retrying it would
  // fail with EALREADY, so wait for writability and read SO_ERROR instead.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    int error = errno;
    if (error == EINTR) {
      wait_ready(fd.get(), POLLOUT, -1);
      socklen_t size = sizeof error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    }
    if (error != 0) {
      throw_errno(error, fmt::format("connect {}:{}", literal, port));
    }
  }
  return socket_client(std::move(fd));
}

std::error_code socket_client::try_send_all(std::string_view data) noexcept {
  while (!data.empty()) {
    const ssize_t n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return {errno, std::system_category()};
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

void socket_client::send_all(std::string_view data) {
  if (const auto error = try_send_all(data)) {
    throw std::system_error(error, "send");
  }
}

std::size_t socket_client::send_some(std::string_view data, std::chrono::milliseconds timeout) {
  if (data.empty() || !wait_ready(m_fd.get(), POLLOUT, deadline(timeout).poll_ms())) {
    return 0;
  }
  for (;;) {
    const ssize_t n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno == EAGAIN) {
      return 0;
    }
    if (errno != EINTR) {
      throw_errno(errno, "send");
    }
  }
}

bool socket_client::fill(std::chrono::milliseconds timeout) {
  if (!wait_ready(m_fd.get(), POLLIN, deadline(timeout).poll_ms())) {
    return false;
  }
  char chunk[65536];
  const ssize_t n = ::recv(m_fd.get(), chunk, sizeof chunk, MSG_DONTWAIT);
  if (n > 0) {
    m_buffer.append(chunk, static_cast<std::size_t>(n));
  } else if (n == 0) {
    m_eof = true;
  } else if (errno == ECONNRESET) {
    m_eof = true;
    m_reset = true;
  } else if (errno != EINTR && errno != EAGAIN) {
    throw_errno(errno, "recv");
  }
  return true;
}

std::optional<std::string> socket_client::read_line(std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  // Polls at least once, so that a zero timeout still collects a line that is ready.
  for (bool polled = false;; polled = true) {
    const auto newline = m_buffer.find('\n');
    if (newline != std::string::npos) {
      std::string line = m_buffer.substr(0, newline + 1);
      m_buffer.erase(0, newline + 1);
      return line;
    }
    if (m_eof || (polled && until.expired())) {
      return std::nullopt;
    }
    fill(until.left());
  }
}

bool socket_client::wait_for_eof(std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  for (bool polled = false; !m_eof; polled = true) {
    if (polled && until.expired()) {
      return false;
    }
    fill(until.left());
  }
  return true;
}

std::string socket_client::read_until_eof(std::chrono::milliseconds timeout) {
  wait_for_eof(timeout);
  return std::exchange(m_buffer, std::string());
}

void socket_client::shutdown_write() {
  if (::shutdown(m_fd.get(), SHUT_WR) != 0) {
    throw_errno(errno, "shutdown");
  }
}

void socket_client::reset() noexcept {
  // A zero linger time makes close() abort the connection: RST, and unsent data is dropped.
  const linger abort{1, 0};
  ::setsockopt(m_fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  m_fd.reset();
}

std::uint16_t socket_client::local_port() const {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(m_fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    throw_errno(errno, "getsockname");
  }
  return storage.ss_family == AF_INET6
             ? ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port)
             : ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

}  // namespace ringline::test_support

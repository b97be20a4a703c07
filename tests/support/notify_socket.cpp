#include "tests/support/notify_socket.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "tests/support/deadline.hpp"

namespace ringline::test_support {

namespace {
[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}
}  // namespace

notify_socket::notify_socket() : m_path((m_dir.path() / "notify").string()) {
  m_socket.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!m_socket) {
    throw_errno("socket(AF_UNIX, SOCK_DGRAM)");
  }
  sockaddr_un where{};
  where.sun_family = AF_UNIX;
  if (m_path.size() >= sizeof where.sun_path) {
    throw std::system_error(ENAMETOOLONG, std::system_category(), m_path);
  }
  std::memcpy(where.sun_path, m_path.c_str(), m_path.size() + 1);
  if (::bind(m_socket.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
    throw_errno("bind the notify socket");
  }
}

std::string notify_socket::env() const {
  return "NOTIFY_SOCKET=" + m_path;
}

std::optional<std::string> notify_socket::receive(std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  // sd_notify messages are short; a 4 KiB datagram holds any the server sends.
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::recv(m_socket.get(), buffer.data(), buffer.size(), 0);
    if (n >= 0) {
      return std::string(buffer.data(), static_cast<std::size_t>(n));
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN) {
      throw_errno("recv on the notify socket");
    }
    if (until.expired()) {
      return std::nullopt;
    }
    pollfd ready{m_socket.get(), POLLIN, 0};
    if (::poll(&ready, 1, until.poll_ms()) < 0 && errno != EINTR) {
      throw_errno("poll the notify socket");
    }
  }
}

std::optional<std::string> notify_socket::wait_for(std::string_view line,
                                                   std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  for (;;) {
    auto message = receive(until.left());
    if (!message) {
      return std::nullopt;
    }
    if (has_notify_line(*message, line)) {
      return message;
    }
    ++m_skipped;
  }
}

bool has_notify_line(std::string_view message, std::string_view line) {
  while (!message.empty()) {
    const auto newline = message.find('\n');
    if (message.substr(0, newline) == line) {
      return true;
    }
    if (newline == std::string_view::npos) {
      break;
    }
    message.remove_prefix(newline + 1);
  }
  return false;
}

std::optional<std::string> notify_value(std::string_view message, std::string_view name) {
  while (!message.empty()) {
    const auto newline = message.find('\n');
    const auto line = message.substr(0, newline);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == '=') {
      return std::string(line.substr(name.size() + 1));
    }
    if (newline == std::string_view::npos) {
      break;
    }
    message.remove_prefix(newline + 1);
  }
  return std::nullopt;
}

std::uint16_t pick_free_port() {
  const unique_fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) {
    throw_errno("socket(AF_INET)");
  }
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof where;
  if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0 ||
      ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&where), &size) != 0) {
    throw_errno("bind 127.0.0.1 port 0");
  }
  return ntohs(where.sin_port);
}

}  // namespace ringline::test_support

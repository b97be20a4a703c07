#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <system_error>

#include "tests/support/socket_client.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::test_support {

/// A listening socket on 127.0.0.1, port 0, whose connections a test accepts and drives by
/// hand: a stand-in server that says only what the test tells it to. Move-only.
class test_listener {
 public:
  /// Binds and listens; throws std::system_error on failure.
  test_listener() : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (!m_fd || ::bind(m_fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(m_fd.get(), 16) != 0 ||
        ::getsockname(m_fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::system_category(), "test listener");
    }
    m_port = ntohs(address.sin_port);
  }

  /// Returns the port the kernel picked.
  [[nodiscard]] std::uint16_t port() const noexcept { return m_port; }

  /// Accepts the next connection, waiting up to `timeout`; returns nullopt if none came.
  std::optional<socket_client> accept(std::chrono::milliseconds timeout) {
    pollfd ready{m_fd.get(), POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) {
      return std::nullopt;
    }
    unique_fd fd(::accept4(m_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) {
      return std::nullopt;
    }
    return socket_client(std::move(fd));
  }

 private:
  unique_fd m_fd;
  std::uint16_t m_port = 0;
};

/// Returns a TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back,
/// closed), for a server that must come back on the same port after being killed.
inline std::uint16_t free_port() {
  const test_listener probe;
  return probe.port();
}

}  // namespace ringline::test_support

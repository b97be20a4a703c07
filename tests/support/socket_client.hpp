#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "tests/support/unique_fd.hpp"

namespace ringline::test_support {

/// A blocking TCP connection for tests, with every wait bounded by poll() and a timeout.
///
/// Received bytes are buffered, so read_line(), read_until_eof() and wait_for_eof() can be
/// mixed freely without losing data. Sends use MSG_NOSIGNAL, so a peer that reset the
/// connection shows up as an error, never as SIGPIPE. Move-only; one thread at a time.
class socket_client {
 public:
  /// Connects to `host` (an IPv4 or IPv6 literal; "[::1]" brackets are accepted) and `port`,
  /// with TCP_NODELAY set; from `source` (a literal of the same family, any port: 127.0.0.2
  /// is another loopback client) when it is not empty. Throws std::system_error if an address
  /// is invalid, or bind or connect fails.
  static socket_client connect(std::string_view host, std::uint16_t port,
                               std::string_view source = {});

  /// Takes ownership of a connected stream socket.
  explicit socket_client(unique_fd fd) noexcept : m_fd(std::move(fd)) {}

  /// Sends all of `data`, blocking while the socket buffer is full; throws std::system_error
  /// on failure (EPIPE, ECONNRESET, ...).
  void send_all(std::string_view data);
  /// Sends all of `data`; returns the error instead of throwing (empty on success).
  std::error_code try_send_all(std::string_view data) noexcept;
  /// Sends as much of `data` as the socket accepts, waiting up to `timeout` for room; returns
  /// the number of bytes sent, 0 if the socket stayed full (the peer is back-pressuring).
  /// Throws std::system_error on failure.
  std::size_t send_some(std::string_view data, std::chrono::milliseconds timeout);

  /// Returns the next line including its '\n'; returns nullopt if no complete line arrives
  /// within `timeout` or the peer closed first (see eof()). A partial line stays buffered.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Reads until the peer closes, up to `timeout`, and returns everything buffered and read,
  /// emptying the buffer; check eof() to know whether the end was reached.
  std::string read_until_eof(std::chrono::milliseconds timeout);
  /// Waits up to `timeout` for the peer to close (FIN or RST); returns true if it did. Data
  /// that arrives meanwhile is buffered, not discarded.
  bool wait_for_eof(std::chrono::milliseconds timeout);
  /// Returns the bytes received but not yet returned by a read.
  [[nodiscard]] const std::string& buffered() const noexcept { return m_buffer; }
  /// Returns true once the peer has closed the connection (orderly or by reset).
  [[nodiscard]] bool eof() const noexcept { return m_eof; }
  /// Returns true if the connection ended with a reset (ECONNRESET) rather than a FIN.
  [[nodiscard]] bool was_reset() const noexcept { return m_reset; }

  /// Sends FIN: the peer reads EOF while this side can still receive.
  void shutdown_write();
  /// Closes with SO_LINGER {1, 0}, so the kernel sends RST instead of FIN.
  void reset() noexcept;
  /// Closes the socket normally.
  void close() noexcept { m_fd.reset(); }
  /// Returns the socket descriptor (-1 after close() or reset()); ownership stays here.
  [[nodiscard]] int fd() const noexcept { return m_fd.get(); }
  /// Returns the local port, as the server would log it.
  [[nodiscard]] std::uint16_t local_port() const;

 private:
  /// Waits up to `timeout` for input and appends what arrives to the buffer; returns false on
  /// timeout. Sets m_eof at FIN or RST.
  bool fill(std::chrono::milliseconds timeout);

  unique_fd m_fd;
  std::string m_buffer;
  bool m_eof = false;
  bool m_reset = false;
};

}  // namespace ringline::test_support

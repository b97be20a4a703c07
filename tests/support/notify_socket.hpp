#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/temp_dir.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::test_support {

/// A service manager's end of the sd_notify protocol, for tests: an AF_UNIX datagram socket
/// bound to a fresh path, which a child started with env() in its environment sends its
/// READY=1, STATUS=..., WATCHDOG=1 and STOPPING=1 messages to. Every read is bounded.
/// Move-only; one thread at a time.
class notify_socket {
 public:
  /// Creates and binds the socket in a new temporary directory; throws std::system_error.
  notify_socket();

  /// Returns the environment entry that points a child here: "NOTIFY_SOCKET=<path>".
  [[nodiscard]] std::string env() const;

  /// Returns the next message (one datagram, e.g. "READY=1\nSTATUS=..."), or nullopt if none
  /// arrives within `timeout`. Throws std::system_error on a receive error.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);

  /// Receives until a message holds the line `line` (e.g. "READY=1"), and returns that
  /// message; nullopt if none does within `timeout`. The messages before it are consumed and
  /// counted in skipped().
  std::optional<std::string> wait_for(std::string_view line, std::chrono::milliseconds timeout);

  /// Returns how many messages wait_for() has passed over.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return m_skipped; }

 private:
  temp_dir m_dir;
  std::string m_path;
  unique_fd m_socket;
  std::uint64_t m_skipped = 0;
};

/// Returns true if `message` (newline-separated assignments) has `line` as one of its lines.
bool has_notify_line(std::string_view message, std::string_view line);

/// Returns the value of `NAME=` in `message` ("STATUS" gives what follows "STATUS="), or
/// nullopt if no line assigns it.
std::optional<std::string> notify_value(std::string_view message, std::string_view name);

/// Returns a TCP port on 127.0.0.1 that was free a moment ago: bound to port 0 by a
/// throwaway socket, read back and closed. Another process may take it before the caller
/// binds it, so callers retry with a new port when it turns out to be taken. Throws
/// std::system_error if no socket can be bound.
std::uint16_t pick_free_port();

}  // namespace ringline::test_support

#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/socket_client.hpp"

namespace ringline::test_support {

/// Holds an address a server announced; `host` is an IP literal without brackets.
struct listen_address {
  std::string host;
  std::uint16_t port = 0;
};

/// Returns the address in a line containing `listening on HOST:PORT` (an IPv6 HOST is printed
/// as `[::1]`), or nullopt if `line` has none. Text after the address is ignored.
std::optional<listen_address> parse_listening_line(std::string_view line);

/// Appends `--threads $RINGLINE_TEST_THREADS` to `argv` when that variable is set, argv
/// starts ringline-server and has no --threads of its own: the integration and fault tests
/// then run against the chosen thread count.
void apply_test_threads(std::vector<std::string>& argv);

/// A running ringline-server (or any program that announces its port the same way) whose
/// stderr has shown `listening on HOST:PORT`.
///
/// Start it with port 0 so the kernel picks a free port; port() reads it back from the
/// announcement, so tests need neither fixed ports nor sleeps. The server is killed with
/// SIGKILL by the destructor if stop() was not called. Move-only; one thread at a time.
class server_process {
 public:
  /// Default time to wait for the announcement, and for stop().
  static constexpr std::chrono::milliseconds default_timeout{10'000};

  /// Starts `binary` with `args` (plus apply_test_threads()), stdin and stdout on /dev/null and
  /// stderr piped, and waits up to `timeout` for the announcement. Throws std::system_error if it
  /// cannot start and std::runtime_error (with the exit code and stderr so far) if it exits or
  /// stays silent.
  static server_process start(const std::string& binary, std::vector<std::string> args,
                              std::chrono::milliseconds timeout = default_timeout);
  /// Same, with full control over the child: `options.argv` holds the binary and its
  /// arguments; stderr_mode is forced to pipe because the announcement is read from it.
  static server_process start(child_options options,
                              std::chrono::milliseconds timeout = default_timeout);

  /// Returns the announced host, without brackets ("127.0.0.1", "::1").
  [[nodiscard]] const std::string& host() const noexcept { return m_address.host; }
  /// Returns the announced port.
  [[nodiscard]] std::uint16_t port() const noexcept { return m_address.port; }
  /// Returns the stderr lines read during start-up, the announcement last.
  [[nodiscard]] const std::vector<std::string>& startup_lines() const noexcept {
    return m_startup_lines;
  }
  /// Returns the child, for reading its later stderr, signalling it, or measuring it.
  [[nodiscard]] child_process& process() noexcept { return m_process; }

  /// Opens a blocking test connection to the announced address; throws std::system_error.
  [[nodiscard]] socket_client connect() const;

  /// Sends SIGTERM and waits up to `timeout` for the exit; returns the exit code (128 + signal
  /// if a signal killed it), or nullopt if it is still running (the destructor kills it).
  std::optional<int> stop(std::chrono::milliseconds timeout = default_timeout);

 private:
  server_process(child_process process, listen_address address, std::vector<std::string> lines)
      : m_process(std::move(process)),
        m_address(std::move(address)),
        m_startup_lines(std::move(lines)) {}

  child_process m_process;
  listen_address m_address;
  std::vector<std::string> m_startup_lines;
};

}  // namespace ringline::test_support

#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cancellation.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

// The server under systemd (through libsystemd, not a hand-written protocol): sockets passed
// by socket activation, and the notifications of a Type=notify service.

namespace ringline::service {

/// Takes the listening sockets systemd passed (LISTEN_FDS/LISTEN_PID, sd_listen_fds), and
/// unsets those variables so children do not see them. Returns none when nothing was passed;
/// an error (with a line for the operator in `why`) when a passed descriptor is not a
/// listening TCP stream socket.
runtime::result<std::vector<runtime::unique_fd>> take_activated_listeners(std::string& why);

/// Tells the service manager how the server is doing (sd_notify), when NOTIFY_SOCKET says
/// one listens; otherwise every call does nothing. Never throws; a manager that went away is
/// not the server's problem.
class service_notifier {
 public:
  service_notifier() noexcept;

  /// Returns true when a service manager listens.
  [[nodiscard]] bool enabled() const noexcept { return m_enabled; }

  /// READY=1 with a STATUS= line: the server accepts connections.
  void ready(std::string_view status) const noexcept;
  /// STOPPING=1 with a STATUS= line: the server drains.
  void stopping(std::string_view status) const noexcept;
  /// STATUS=<status>.
  void status(std::string_view status) const noexcept;
  /// WATCHDOG=1: the loop is alive.
  void watchdog() const noexcept;

  /// How often to send watchdog(): half of WATCHDOG_USEC when the manager asked for it
  /// (for this process), zero otherwise.
  [[nodiscard]] std::chrono::microseconds watchdog_interval() const noexcept {
    return m_watchdog_interval;
  }

 private:
  void send(const std::string& state) const noexcept;
  void send_with_status(std::string_view state, std::string_view status) const noexcept;

  bool m_enabled = false;
  std::chrono::microseconds m_watchdog_interval{0};
};

/// Keeps the service manager informed until `stop` is requested: WATCHDOG=1 every
/// notifier.watchdog_interval() (when set) and STATUS=<describe()> every `status_period`.
/// Run it on the loop the watchdog vouches for (the main loop): a loop that stops turning
/// stops feeding the watchdog, and systemd restarts the service. `notifier` must outlive it.
runtime::task<void> notify_periodically(const service_notifier& notifier,
                                        std::function<std::string()> describe,
                                        std::chrono::milliseconds status_period,
                                        runtime::cancellation& stop);

}  // namespace ringline::service

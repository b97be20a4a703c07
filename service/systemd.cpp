#include "service/systemd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "runtime/io.hpp"

namespace ringline::service {

runtime::result<std::vector<runtime::unique_fd>> take_activated_listeners(std::string& why) {
  // 1: unset LISTEN_FDS and friends, so that nothing the server starts inherits them.
  const int count = ::sd_listen_fds(1);
  if (count < 0) {
    why = fmt::format("socket activation: {}", runtime::errno_code(-count).message());
    return runtime::errno_code(-count);
  }
  std::vector<runtime::unique_fd> listeners;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + count; ++fd) {
    listeners.emplace_back(fd);
  }
  for (const auto& listener : listeners) {
    // TCP only: the sessions set TCP_NODELAY and log peer addresses.
    const bool tcp = ::sd_is_socket_inet(listener.get(), AF_UNSPEC, SOCK_STREAM, 1, 0) > 0;
    if (!tcp) {
      why = fmt::format(
          "socket activation: descriptor {} is not a listening TCP socket (ListenStream= "
          "with an address and port is what ringline-server serves)",
          listener.get());
      return std::errc::not_a_socket;
    }
    // systemd passes them without close-on-exec.
    (void)::fcntl(listener.get(), F_SETFD, FD_CLOEXEC);
  }
  return listeners;
}

service_notifier::service_notifier() noexcept {
  // Read at start, before any other thread exists.
  const char* socket = std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  m_enabled = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // 0: keep WATCHDOG_USEC/WATCHDOG_PID set; they describe this process and cost nothing.
  if (m_enabled && ::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    m_watchdog_interval = std::chrono::microseconds(usec / 2);
  }
}

void service_notifier::ready(std::string_view status) const noexcept {
  send_with_status("READY=1\n", status);
}

void service_notifier::stopping(std::string_view status) const noexcept {
  send_with_status("STOPPING=1\n", status);
}

void service_notifier::status(std::string_view status) const noexcept {
  send_with_status("", status);
}

void service_notifier::send_with_status(std::string_view state,
                                        std::string_view status) const noexcept {
  if (!m_enabled) {
    return;
  }
  try {
    send(fmt::format("{}STATUS={}", state, status));
  } catch (...) {
    // No memory for the status text: the state alone still matters to the manager.
    if (!state.empty()) {
      send(std::string(state));
    }
  }
}

void service_notifier::watchdog() const noexcept {
  if (m_enabled) {
    send("WATCHDOG=1");
  }
}

void service_notifier::send(const std::string& state) const noexcept {
  // One datagram on a local socket: it does not block for long, and it is not retried.
  (void)::sd_notify(0, state.c_str());
}

runtime::task<void> notify_periodically(const service_notifier& notifier,
                                        std::function<std::string()> describe,
                                        std::chrono::milliseconds status_period,
                                        runtime::cancellation& stop) {
  using clock = std::chrono::steady_clock;
  const auto watchdog = std::chrono::duration_cast<clock::duration>(notifier.watchdog_interval());
  const bool feeds_watchdog = watchdog > clock::duration::zero();
  auto next_status = clock::now() + status_period;
  auto next_watchdog = clock::now() + watchdog;
  for (;;) {
    const auto wake = feeds_watchdog ? std::min(next_status, next_watchdog) : next_status;
    // At least a millisecond: a deadline already passed must not spin the loop.
    const auto nap = std::max<clock::duration>(wake - clock::now(), std::chrono::milliseconds(1));
    // Not `while (co_await ...)`: GCC 12 miscompiles a co_await in a loop condition.
    if (auto slept = co_await runtime::sleep_for(nap, &stop); !slept) {
      co_return;
    }
    const auto now = clock::now();
    if (feeds_watchdog && now >= next_watchdog) {
      notifier.watchdog();
      // From now, not from the missed deadline: a late loop sends one, not a burst.
      next_watchdog = now + watchdog;
    }
    if (now >= next_status) {
      try {
        notifier.status(describe());
      } catch (...) {
        // No memory for a status line: the next one may have it; the server goes on.
      }
      next_status = now + status_period;
    }
  }
}

}  // namespace ringline::service

#include "tests/support/child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "tests/support/deadline.hpp"
#include "tests/support/spawn.hpp"

namespace ringline::test_support {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::system_category(), what);
}

/// Blocks SIGPIPE in the calling thread for its lifetime and swallows one raised meanwhile,
/// so that writing to a child that closed its stdin reports EPIPE instead of killing the test.
class sigpipe_guard {
 public:
  sigpipe_guard() {
    ::sigemptyset(&m_set);
    ::sigaddset(&m_set, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
    sigset_t pending;
    ::sigpending(&pending);
    m_was_pending = ::sigismember(&pending, SIGPIPE) == 1;
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;
  ~sigpipe_guard() {
    if (m_raised && !m_was_pending) {
      const timespec zero{};
      ::sigtimedwait(&m_set, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  void raised() noexcept { m_raised = true; }

 private:
  sigset_t m_set{};
  sigset_t m_old{};
  bool m_was_pending = false;
  bool m_raised = false;
};

}  // namespace

child_process::child_process(child_options options) {
  auto child = detail::spawn(options);
  m_pid = child.pid;
  m_stdin = std::move(child.stdin_pipe);
  m_stdout = std::move(child.stdout_pipe);
  m_stderr = std::move(child.stderr_pipe);
  // A pidfd turns "wait for exit" into something poll() can wait on together with the pipes.
  // Without one (old kernel, seccomp) wait_for_exit() falls back to short polls.
  const long pidfd = ::syscall(SYS_pidfd_open, m_pid, 0U);
  if (pidfd >= 0) {
    m_pidfd.reset(static_cast<int>(pidfd));
  }
}

child_process::child_process(child_process&& other) noexcept
    : m_pid(std::exchange(other.m_pid, -1)),
      m_exit_code(other.m_exit_code),
      m_pidfd(std::move(other.m_pidfd)),
      m_stdin(std::move(other.m_stdin)),
      m_stdout(std::move(other.m_stdout)),
      m_stderr(std::move(other.m_stderr)),
      m_stdout_data(std::move(other.m_stdout_data)),
      m_stderr_data(std::move(other.m_stderr_data)),
      m_stderr_consumed(other.m_stderr_consumed) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    destroy();
    m_pid = std::exchange(other.m_pid, -1);
    m_exit_code = other.m_exit_code;
    m_pidfd = std::move(other.m_pidfd);
    m_stdin = std::move(other.m_stdin);
    m_stdout = std::move(other.m_stdout);
    m_stderr = std::move(other.m_stderr);
    m_stdout_data = std::move(other.m_stdout_data);
    m_stderr_data = std::move(other.m_stderr_data);
    m_stderr_consumed = other.m_stderr_consumed;
  }
  return *this;
}

child_process::~child_process() {
  destroy();
}

void child_process::destroy() noexcept {
  if (m_pid > 0 && !m_exit_code) {
    ::kill(m_pid, SIGKILL);
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  m_pid = -1;
  m_pidfd.reset();
  m_stdin.reset();
  m_stdout.reset();
  m_stderr.reset();
}

bool child_process::write_stdin(std::string_view data) {
  if (!m_stdin) {
    throw std::logic_error("child_process: stdin is not an open pipe");
  }
  sigpipe_guard guard;
  while (!data.empty()) {
    const ssize_t n = ::write(m_stdin.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EPIPE) {
        guard.raised();
        return false;
      }
      throw_errno(errno, "write to child stdin");
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void child_process::close_stdout() noexcept {
  m_stdout.reset();
}

void child_process::close_stderr() noexcept {
  m_stderr.reset();
}

void child_process::close_stdin() noexcept {
  m_stdin.reset();
}

void child_process::pump(std::chrono::milliseconds timeout, bool watch_exit) {
  pollfd fds[3];
  nfds_t count = 0;
  for (const auto* end : {&m_stdout, &m_stderr}) {
    if (*end) {
      fds[count++] = {end->get(), POLLIN, 0};
    }
  }
  if (watch_exit && m_pidfd) {
    fds[count++] = {m_pidfd.get(), POLLIN, 0};
  }
  const auto ms = std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, INT_MAX);
  if (::poll(count > 0 ? fds : nullptr, count, static_cast<int>(ms)) < 0) {
    if (errno == EINTR) {
      return;
    }
    throw_errno(errno, "poll child pipes");
  }
  // Drain each pipe to EAGAIN or EOF; at EOF the pipe is closed so it is not polled again.
  const auto drain = [](unique_fd& end, std::string& sink) {
    char buffer[16384];
    while (end) {
      const ssize_t n = ::read(end.get(), buffer, sizeof buffer);
      if (n > 0) {
        sink.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        end.reset();
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        return;
      } else {
        throw_errno(errno, "read child pipe");
      }
    }
  };
  drain(m_stdout, m_stdout_data);
  drain(m_stderr, m_stderr_data);
}

std::optional<std::string> child_process::read_stdout_all(std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  // Polls at least once, so that a zero timeout still collects what is ready.
  for (bool polled = false; m_stdout; polled = true) {
    if (polled && until.expired()) {
      return std::nullopt;
    }
    pump(until.left(), false);
  }
  return m_stdout_data;
}

std::string child_process::stdout_so_far() {
  pump(std::chrono::milliseconds(0), false);
  return m_stdout_data;
}

std::optional<std::string> child_process::read_stderr_line(std::chrono::milliseconds timeout) {
  const deadline until(timeout);
  for (bool polled = false;; polled = true) {
    const auto newline = m_stderr_data.find('\n', m_stderr_consumed);
    if (newline != std::string::npos) {
      std::string line = m_stderr_data.substr(m_stderr_consumed, newline - m_stderr_consumed);
      m_stderr_consumed = newline + 1;
      return line;
    }
    // Polls at least once, so that a zero timeout still collects a line that is ready.
    if (!m_stderr || (polled && until.expired())) {
      return std::nullopt;
    }
    pump(until.left(), false);
  }
}

std::string child_process::stderr_so_far() {
  pump(std::chrono::milliseconds(0), false);
  return m_stderr_data;
}

bool child_process::send_signal(int signal) noexcept {
  // Until it is reaped the pid cannot be reused, so kill() cannot hit another process.
  if (m_pid <= 0 || m_exit_code) {
    return false;
  }
  return ::kill(m_pid, signal) == 0;
}

bool child_process::try_reap() noexcept {
  if (m_exit_code) {
    return true;
  }
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(m_pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return false;
  }
  if (r < 0) {
    m_exit_code = -1;  // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN)
  } else if (WIFSIGNALED(status)) {
    m_exit_code = 128 + WTERMSIG(status);
  } else {
    m_exit_code = WEXITSTATUS(status);
  }
  m_pidfd.reset();
  return true;
}

std::optional<int> child_process::wait_for_exit(std::chrono::milliseconds timeout) {
  constexpr std::chrono::milliseconds fallback_interval(10);
  const deadline until(timeout);
  for (;;) {
    if (try_reap()) {
      return m_exit_code;
    }
    if (until.expired()) {
      return std::nullopt;
    }
    // Pipes are drained while waiting: a child blocked on a full stderr pipe never exits.
    auto slice = until.left();
    if (!m_pidfd) {
      slice = std::min(slice, fallback_interval);
    }
    pump(slice, true);
  }
}

long child_process::rss_kib() const {
  if (m_pid <= 0 || m_exit_code) {
    return -1;
  }
  std::ifstream status(fmt::format("/proc/{}/status", m_pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;  // zombies and kernel threads have no VmRSS line
}

}  // namespace ringline::test_support

#include "runtime/signal_set.hpp"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "runtime/error.hpp"

namespace ringline::runtime {

signal_set::signal_set(std::initializer_list<int> signals) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int signal_number : signals) {
    sigaddset(&mask, signal_number);
  }
  if (const int rc = pthread_sigmask(SIG_BLOCK, &mask, nullptr); rc != 0) {
    throw std::system_error(errno_code(rc), "pthread_sigmask");
  }
  m_fd.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!m_fd) {
    throw std::system_error(last_errno(), "signalfd");
  }
}

// The signals stay blocked when the set goes: one that arrives late (a second SIGTERM while
// the process exits) would otherwise take its default action and turn a clean exit into a
// kill. Pending ones are simply dropped with the process.
signal_set::~signal_set() = default;

task<result<int>> signal_set::wait(cancellation* cancel) {
  for (;;) {
    // The read itself happens here, not in the ring: a signalfd yields the signals of the
    // task that reads it, and the kernel may run a ring read on a worker thread.
    signalfd_siginfo info{};
    const auto got = ::read(m_fd.get(), &info, sizeof info);
    if (got == static_cast<ssize_t>(sizeof info)) {
      co_return static_cast<int>(info.ssi_signo);
    }
    if (got < 0 && errno != EAGAIN && errno != EINTR) {
      co_return last_errno();
    }
    if (auto ready =
            co_await poll_readable(m_fd.get(), io_options{.timeout = {}, .cancel = cancel});
        !ready) {
      co_return ready.error();
    }
  }
}

}  // namespace ringline::runtime

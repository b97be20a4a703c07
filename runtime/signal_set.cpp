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
  if (const int rc = pthread_sigmask(SIG_BLOCK, &mask, &m_previous); rc != 0) {
    throw std::system_error(errno_code(rc), "pthread_sigmask");
  }
  m_fd.reset(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!m_fd) {
    const auto error = last_errno();
    pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
    throw std::system_error(error, "signalfd");
  }
}

signal_set::~signal_set() {
  pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
}

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

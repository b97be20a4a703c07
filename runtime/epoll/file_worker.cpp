#include "runtime/epoll/file_worker.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <system_error>

#include "runtime/epoll/transfer.hpp"
#include "runtime/error.hpp"

namespace ringline::runtime::detail {

namespace {

void do_nothing(int /*signal*/) noexcept {}

// Installed once for the process, without SA_RESTART, so the interrupted call returns.
void install_interrupt_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = &do_nothing;
    sigemptyset(&action.sa_mask);
    (void)::sigaction(file_worker::interrupt_signal(), &action, nullptr);
  });
}

}  // namespace

int file_worker::interrupt_signal() noexcept {
  // Above glibc's own real-time signals, and below what applications usually pick.
  return SIGRTMIN + 4;
}

file_worker::file_worker() : m_event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!m_event) {
    throw std::system_error(last_errno(), "eventfd");
  }
}

file_worker::~file_worker() {
  {
    const std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_one();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void file_worker::submit(io_request& request) {
  {
    const std::lock_guard lock(m_mutex);
    m_queue.push_back(&request);
  }
  if (!m_thread.joinable()) {
    install_interrupt_handler();
    m_thread = std::thread([this] {
      // The loop's thread may block signals (for a signalfd); this one takes the interrupt.
      sigset_t interrupt;
      sigemptyset(&interrupt);
      sigaddset(&interrupt, interrupt_signal());
      (void)::pthread_sigmask(SIG_UNBLOCK, &interrupt, nullptr);
      run();
    });
  }
  m_wake.notify_one();
}

bool file_worker::withdraw(io_request& request) noexcept {
  const std::lock_guard lock(m_mutex);
  const auto found = std::find(m_queue.begin(), m_queue.end(), &request);
  if (found == m_queue.end()) {
    if (m_running == &request) {
      m_cancel_running = true;
      interrupt();
    }
    return false;
  }
  m_queue.erase(found);
  return true;
}

bool file_worker::interrupt_again() noexcept {
  if (!m_cancel_running.load(std::memory_order_relaxed)) {
    return false;
  }
  const std::lock_guard lock(m_mutex);
  if (m_running == nullptr || !m_cancel_running) {
    return false;
  }
  interrupt();
  return true;
}

void file_worker::interrupt() noexcept {
  (void)::pthread_kill(m_thread.native_handle(), interrupt_signal());
}

void file_worker::withdraw_all(std::vector<io_request*>& out) {
  const std::lock_guard lock(m_mutex);
  out.insert(out.end(), m_queue.begin(), m_queue.end());
  m_queue.clear();
  if (m_running != nullptr) {
    m_cancel_running = true;
    interrupt();
  }
}

void file_worker::take_done(std::vector<done>& out) {
  std::uint64_t count = 0;
  // Resets the counter: results from now on write it again. EAGAIN (already reset) is fine.
  if (::read(m_event.get(), &count, sizeof count) < 0) {
    count = 0;
  }
  const std::lock_guard lock(m_mutex);
  out.insert(out.end(), m_done.begin(), m_done.end());
  m_done.clear();
}

void file_worker::run() noexcept {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
    if (m_queue.empty()) {
      return;  // stopping, and nothing is left to do
    }
    io_request* request = m_queue.front();
    m_queue.pop_front();
    m_running = request;
    m_cancel_running = false;
    lock.unlock();
    const int res = perform(*request);
    lock.lock();
    m_running = nullptr;
    try {
      m_done.push_back({request, res});
    } catch (...) {
      // No memory for the result: the loop would wait for it forever, so this is fatal.
      std::terminate();
    }
    const std::uint64_t one = 1;
    // Cannot fail but by overflow (2^64 - 1 results unread), and then the loop is woken anyway.
    if (::write(m_event.get(), &one, sizeof one) < 0) {
      continue;
    }
  }
}

int file_worker::perform(const io_request& request) noexcept {
  char* data = request.m_data + request.m_done;
  const std::size_t size = std::min(request.m_size - request.m_done, k_max_transfer);
  for (;;) {
    int res = -EINVAL;
    switch (request.m_kind) {
      case io_kind::read:
        res = result_of(::read(request.m_fd, data, size));
        break;
      case io_kind::write: {
        if (request.m_msg_flags == 0) {
          res = result_of(::write(request.m_fd, data, size));
        } else {
          const iovec part{.iov_base = data, .iov_len = size};
          res = result_of(::pwritev2(request.m_fd, &part, 1, -1, request.m_msg_flags));
        }
        break;
      }
      case io_kind::datasync:
        res = ::fdatasync(request.m_fd) == 0 ? 0 : -errno;
        break;
      default:
        break;
    }
    if (res != -EINTR) {
      return res;
    }
    const std::lock_guard lock(m_mutex);
    if (m_cancel_running) {
      return -ECANCELED;
    }
  }
}

}  // namespace ringline::runtime::detail

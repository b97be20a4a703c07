#include "runtime/inbox.hpp"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"

namespace ringline::runtime {

namespace {
thread_local inbox* t_current = nullptr;
}  // namespace

inbox::inbox() : m_event(::eventfd(0, EFD_CLOEXEC)) {
  // A blocking eventfd on purpose: the ring polls it, so the read never blocks the loop,
  // and a non-blocking one would make the kernel complete the read with EAGAIN.
  if (!m_event) {
    throw std::system_error(errno, std::system_category(), "eventfd");
  }
}

inbox::~inbox() {
  // run() may have been destroyed mid-read by its loop's shutdown, never clearing this.
  if (t_current == this) {
    t_current = nullptr;
  }
}

inbox* inbox::current() noexcept {
  return t_current;
}

void inbox::wake_locked_out(bool needed) {
  if (!needed) {
    return;
  }
  // Outside the mutex: the write is a syscall, and a poster that races with run()'s swap
  // at worst causes one spurious wake-up with an empty batch.
  const std::uint64_t one = 1;
  ssize_t wrote = 0;
  do {
    wrote = ::write(m_event.get(), &one, sizeof one);
  } while (wrote < 0 && errno == EINTR);
  // The only other failure is EAGAIN at a counter of 2^64-2, which run() never lets build up.
}

void inbox::post(std::coroutine_handle<> handle) {
  post(std::span<const std::coroutine_handle<>>(&handle, 1));
}

void inbox::post(std::span<const std::coroutine_handle<>> handles) {
  if (handles.empty()) {
    return;
  }
  bool wake = false;
  {
    const std::lock_guard lock(m_mutex);
    m_handles.insert(m_handles.end(), handles.begin(), handles.end());
    wake = !std::exchange(m_wake_pending, true);
    m_wakeups += wake ? 1 : 0;
  }
  wake_locked_out(wake);
}

void inbox::post(std::function<void()> work) {
  bool wake = false;
  {
    const std::lock_guard lock(m_mutex);
    m_work.push_back(std::move(work));
    wake = !std::exchange(m_wake_pending, true);
    m_wakeups += wake ? 1 : 0;
  }
  wake_locked_out(wake);
}

void inbox::close() {
  bool wake = false;
  {
    const std::lock_guard lock(m_mutex);
    if (m_closed) {
      return;
    }
    m_closed = true;
    wake = !std::exchange(m_wake_pending, true);
  }
  wake_locked_out(wake);
}

std::size_t inbox::wakeups() const {
  const std::lock_guard lock(m_mutex);
  return m_wakeups;
}

task<void> inbox::run() {
  // Set here, on the owning thread, not when the task starts: a coroutine of this loop that
  // runs before the spawned task's first turn must already find its inbox.
  t_current = this;
  return serve();
}

task<void> inbox::serve() {
  auto& loop = event_loop::current();
  std::vector<std::coroutine_handle<>> handles;
  std::vector<std::function<void()>> work;
  std::uint64_t count = 0;
  bool closed = false;
  while (!closed) {
    // The read resets the counter, so every later post finds it at zero or one.
    auto got = co_await read_some(m_event.get(),
                                  std::span<char>(reinterpret_cast<char*>(&count), sizeof count));
    if (!got) {
      break;  // cancelled as the loop shuts down: what is queued is dropped with the inbox
    }
    {
      const std::lock_guard lock(m_mutex);
      // Cleared before the batch runs: a post from here on writes the eventfd again, so
      // nothing posted during the batch can be left waiting.
      m_wake_pending = false;
      handles.swap(m_handles);
      work.swap(m_work);
      closed = m_closed;
    }
    for (const auto handle : handles) {
      loop.post(handle);
    }
    handles.clear();
    for (auto& each : work) {
      each();
    }
    work.clear();
  }
  t_current = nullptr;
}

}  // namespace ringline::runtime

// The sink's side of the sessions: append() and its awaiter, the waiters list, how they are
// resumed (on their own threads, one post per inbox), failed, and expired.
#include <cassert>
#include <new>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "service/sink.hpp"

namespace ringline::service {

sink::append_awaiter sink::append(std::span<const std::string_view> lines) {
  if (m_discard) {
    return {*this, 0, {}};  // `none`: nothing to hand over, no lock, no other thread
  }
  std::coroutine_handle<> writer;
  std::uint64_t ticket = 0;
  std::uint64_t failures = 0;
  {
    const std::lock_guard lock(m_mutex);
    if (m_failed || m_unavailable) {
      return {*this, 0, m_failed ? m_failed : m_unavailable};
    }
    if (!m_pending.empty() && m_pending.size() >= m_options.pending_limit) {
      return {*this, 0, std::make_error_code(std::errc::no_buffer_space)};
    }
    // Copied whole under the lock: lines of different threads never interleave mid-line,
    // and one session's lines keep their order because it waits for each append.
    for (const auto line : lines) {
      m_pending.append(line);
      m_pending.push_back('\n');
    }
    m_appended += [&] {
      std::uint64_t bytes = 0;
      for (const auto line : lines) {
        bytes += line.size() + 1;
      }
      return bytes;
    }();
    ticket = m_appended;
    failures = m_failures;
    // Only an idle writer is woken; a busy one finds the lines when its write completes.
    writer = std::exchange(m_idle_writer, nullptr);
  }
  if (writer) {
    wake_on_writer(writer);
  }
  return {*this, ticket, {}, failures};
}

bool sink::append_awaiter::await_ready() noexcept {
  // The sink's own fields are read under its mutex in await_suspend; here only what this
  // awaiter already knows.
  return m_error || m_sink.m_discard;
}

bool sink::append_awaiter::await_suspend(std::coroutine_handle<> waiter) {
  runtime::inbox* home = nullptr;
  if (!m_sink.on_writer_thread()) {
    home = runtime::inbox::current();
    assert(home != nullptr && "append() from a thread without a running inbox");
  }
  std::coroutine_handle<> expiry;
  std::uint64_t gathered = 0;
  {
    const std::lock_guard lock(m_sink.m_mutex);
    if (m_sink.m_failed) {
      m_error = m_sink.m_failed;
      return false;
    }
    if (m_failures_seen != m_sink.m_failures) {
      // A write failed between append() and here (the writer runs on another thread): these
      // lines were written before it, or dropped with it. After more than one failure, take
      // them as dropped; a resent line is a duplicate, an acked lost one is a broken promise.
      const bool before =
          m_failures_seen + 1 == m_sink.m_failures && m_ticket <= m_sink.m_written_before_failure;
      m_error = before ? std::error_code() : m_sink.m_last_failure;
      return false;
    }
    if (m_ticket <= m_sink.m_written) {
      return false;  // written meanwhile, perhaps by another thread's turn of the writer
    }
    const auto deadline = m_sink.m_options.timeout.count() > 0
                              ? clock::now() + m_sink.m_options.timeout
                              : clock::time_point::max();
    m_sink.m_waiters.push_back({m_ticket, deadline, waiter, this, home});
    m_queued = true;
    m_suspended = true;
    expiry = std::exchange(m_sink.m_idle_expiry, nullptr);
    gathered = m_sink.gathered_locked();
  }
  if (expiry) {
    m_sink.wake_on_writer(expiry);
  }
  if (gathered != 0) {
    m_sink.end_gather_from_any_thread(gathered);
  }
  return true;
}

sink::append_awaiter::~append_awaiter() {
  if (!m_suspended) {
    return;  // the usual case: resumed, so already out of the list
  }
  const std::lock_guard lock(m_sink.m_mutex);
  if (m_queued) {
    std::erase_if(m_sink.m_waiters, [this](const waiter& each) { return each.awaiter == this; });
  }
}

runtime::task<void> sink::expire_waiters() {
  if (m_options.timeout.count() == 0) {
    co_return;
  }
  // Parks until a waiter arrives (or run() ends); a waiter on another thread wakes it
  // through the writer's inbox.
  struct wait_for_waiter {
    sink& owner;
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> self) {
      const std::lock_guard lock(owner.m_mutex);
      if (!owner.m_waiters.empty() || owner.m_stop_expiry.requested()) {
        return false;
      }
      owner.m_idle_expiry = self;
      return true;
    }
    void await_resume() const noexcept {}
  };
  while (!m_stop_expiry.requested()) {
    std::optional<clock::time_point> front;
    {
      const std::lock_guard lock(m_mutex);
      if (!m_waiters.empty()) {
        front = m_waiters.front().deadline;
      }
    }
    if (!front) {
      co_await wait_for_waiter{*this};
      continue;
    }
    const auto left = *front - clock::now();
    if (left > clock::duration::zero()) {
      // Waiters queue in deadline order (one timeout for all, appended in time order), so only
      // the front one needs watching; a front that is written meanwhile just makes this wake
      // up early for nothing.
      if (!co_await runtime::sleep_for(left, &m_stop_expiry)) {
        break;
      }
      continue;
    }
    const auto now = clock::now();
    {
      const std::lock_guard lock(m_mutex);
      while (!m_waiters.empty() && m_waiters.front().deadline <= now) {
        // The lines stay queued and may still be written, but are never acknowledged.
        auto& expired = m_waiters.front();
        expired.awaiter->m_error = std::make_error_code(std::errc::timed_out);
        expired.awaiter->m_queued = false;
        m_waking.push_back(expired);
        m_waiters.pop_front();
      }
    }
    resume_taken();
  }
}

void sink::take_waiters_locked(bool all, std::error_code error) {
  // Tickets grow with every append, so the waiters are in ticket order.
  while (!m_waiters.empty() && (all || m_waiters.front().ticket <= m_written)) {
    auto& front = m_waiters.front();
    front.awaiter->m_error = error;
    front.awaiter->m_queued = false;
    m_waking.push_back(front);
    m_waiters.pop_front();
  }
}

void sink::resume_taken() noexcept {
  // Waiters of this thread go to its loop's queue; those of other threads to their inbox, one
  // post (one eventfd write at most) per inbox per batch.
  auto& loop = runtime::event_loop::current();
  while (!m_waking.empty()) {
    runtime::inbox* home = m_waking.front().home;
    m_batch.clear();
    std::erase_if(m_waking, [&](const waiter& each) {
      if (each.home != home) {
        return false;
      }
      m_batch.push_back(each.handle);
      return true;
    });
    if (home == nullptr) {
      for (const auto handle : m_batch) {
        loop.post(handle);
      }
    } else {
      home->post(m_batch);
    }
  }
  m_batch.clear();
}

void sink::fail_all(std::error_code error) noexcept {
  std::coroutine_handle<> writer;
  {
    const std::lock_guard lock(m_mutex);
    if (!m_failed) {
      m_failed = error;
    }
    m_pending.clear();
    take_waiters_locked(true, m_failed);
    writer = std::exchange(m_idle_writer, nullptr);
  }
  resume_taken();
  if (writer) {
    wake_on_writer(writer);
  }
}

}  // namespace ringline::service

#include "runtime/event_loop.hpp"

#include <cassert>
#include <chrono>
#include <cstdio>

#include "runtime/epoll/factory.hpp"
#include "runtime/frame_cache.hpp"
#include "runtime/trampoline.hpp"
#include "runtime/unique_fd.hpp"
#include "runtime/uring/factory.hpp"

namespace ringline::runtime {

namespace {

thread_local event_loop* t_current = nullptr;

}  // namespace

namespace detail {

void forget_descriptor(int fd) noexcept {
  if (t_current != nullptr) {
    t_current->backend().forget(fd);
  }
}

}  // namespace detail

// The promise of a spawned task's wrapper coroutine, linked into its loop's list so the loop
// can destroy what is left at shutdown.
struct event_loop::spawned_node {
  event_loop* m_loop = nullptr;
  spawned_node* m_prev = nullptr;
  spawned_node* m_next = nullptr;
  std::coroutine_handle<> m_frame;
};

namespace {

struct detached {
  struct promise_type : event_loop::spawned_node {
    static void* operator new(std::size_t bytes) { return detail::allocate_frame(bytes); }
    static void operator delete(void* frame, std::size_t bytes) noexcept {
      detail::free_frame(frame, bytes);
    }
    detached get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> self) noexcept {
        self.promise().m_loop->finished(self.promise());
        self.destroy();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { m_loop->failed(std::current_exception()); }
  };
  std::coroutine_handle<promise_type> m_handle;
};

// Takes the task by value so it lives in (and dies with) the wrapper's frame.
detached launch(task<void> work) {
  co_await std::move(work);
}

}  // namespace

event_loop::event_loop(event_loop_options options) {
  assert(t_current == nullptr && "one event_loop per thread");
  if (options.backend != backend_kind::epoll) {
    try {
      m_backend = detail::make_uring_backend(options, m_features);
    } catch (const io_uring_unavailable& refused) {
      if (options.backend == backend_kind::io_uring) {
        throw;
      }
      m_fallback_reason = refused.what();
    }
  }
  if (!m_backend) {
    m_features = ring_features{};
    m_backend = detail::make_epoll_backend(options, m_features);
  }
  t_current = this;
}

event_loop::~event_loop() {
  cancel_everything_and_drain();
  t_current = nullptr;  // first: the backend's own descriptors close as it goes
  m_backend.reset();
}

event_loop& event_loop::current() noexcept {
  assert(t_current != nullptr && "no event_loop on this thread");
  return *t_current;
}

void event_loop::spawn(task<void> work) {
  auto wrapper = launch(std::move(work));
  auto& node = wrapper.m_handle.promise();
  node.m_loop = this;
  node.m_frame = wrapper.m_handle;
  node.m_next = m_spawned_head;
  if (m_spawned_head != nullptr) {
    m_spawned_head->m_prev = &node;
  }
  m_spawned_head = &node;
  ++m_spawned_count;
  // Started on the next turn: spawn may be called from a running coroutine, which must not
  // be interleaved with another one.
  post(wrapper.m_handle);
}

void event_loop::finished(spawned_node& node) noexcept {
  if (node.m_prev != nullptr) {
    node.m_prev->m_next = node.m_next;
  } else {
    m_spawned_head = node.m_next;
  }
  if (node.m_next != nullptr) {
    node.m_next->m_prev = node.m_prev;
  }
  --m_spawned_count;
  if (m_spawned_count == 0) {
    for (auto waiter : m_spawn_waiters) {
      post(waiter);
    }
    m_spawn_waiters.clear();
  }
}

void event_loop::failed(std::exception_ptr error) noexcept {
  if (!m_spawn_error) {
    m_spawn_error = std::move(error);
  }
}

event_loop::spawned_awaiter event_loop::wait_for_spawned() noexcept {
  return spawned_awaiter(*this);
}

bool event_loop::spawned_awaiter::await_ready() const noexcept {
  return m_loop.m_spawned_count == 0;
}

void event_loop::spawned_awaiter::await_suspend(std::coroutine_handle<> waiter) {
  m_loop.m_spawn_waiters.push_back(waiter);
}

void event_loop::post(std::coroutine_handle<> handle) {
  m_posted.push_back(handle);
}

void event_loop::wake(std::coroutine_handle<> handle) const noexcept {
  if (!m_draining) {
    detail::resume(handle);
  }
}

void event_loop::drive(std::coroutine_handle<> main) {
  assert(t_current == this);
  try {
    m_turn_start = std::chrono::steady_clock::now();
    detail::resume(main);
    while (!main.done()) {
      if (m_spawn_error) {
        std::rethrow_exception(std::exchange(m_spawn_error, nullptr));
      }
      if (m_posted.empty() && in_flight() == 0) {
        throw std::logic_error("event_loop::run: the task waits for something that cannot happen");
      }
      turn(m_posted.empty());
      run_posted();
    }
  } catch (...) {
    // The main frame may still have operations in flight; after this the loop is only fit
    // to be destroyed, which is what the caller will do with an exception in hand.
    cancel_everything_and_drain();
    throw;
  }
  if (m_spawn_error) {
    std::rethrow_exception(std::exchange(m_spawn_error, nullptr));
  }
}

void event_loop::turn(bool may_block) {
  std::optional<std::chrono::nanoseconds> timeout{std::chrono::nanoseconds::zero()};
  if (may_block) {
    timeout.reset();
    if (const auto sleep = m_timers.time_to_next(std::chrono::steady_clock::now())) {
      timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(*sleep);
    }
  }
  m_backend->wait(timeout);
  m_turn_start = std::chrono::steady_clock::now();  // what this turn's deadlines count from
  m_backend->deliver();
  if (m_timers.armed() > 0 && !m_draining) {
    m_timers.expire(m_turn_start);
  }
}

void event_loop::run_posted() {
  // Only what was posted before this call; what those coroutines post waits for the next
  // turn, so a coroutine that keeps yielding cannot starve I/O.
  for (std::size_t n = m_posted.size(); n > 0 && !m_posted.empty(); --n) {
    auto handle = m_posted.front();
    m_posted.pop_front();
    detail::resume(handle);
  }
}

void event_loop::cancel_everything_and_drain() noexcept {
  m_draining = true;
  m_posted.clear();
  m_spawn_waiters.clear();
  // Completions still run their handlers (so cancellations and buffers are released), but
  // wake() resumes nobody while draining.
  if (!m_backend->cancel_all(std::chrono::seconds(10))) {
    // The kernel may still write into these frames; leaking them is the only safe choice.
    (void)std::fprintf(stderr,
                       "ringline: %zu operations did not finish at shutdown; leaking their "
                       "coroutine frames\n",
                       in_flight());
    m_spawned_head = nullptr;
    return;
  }
  while (m_spawned_head != nullptr) {
    spawned_node* node = std::exchange(m_spawned_head, m_spawned_head->m_next);
    node->m_frame.destroy();
  }
  m_spawned_count = 0;
}

}  // namespace ringline::runtime

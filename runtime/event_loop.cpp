#include "runtime/event_loop.hpp"

#include <liburing.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "runtime/error.hpp"
#include "runtime/frame_cache.hpp"
#include "runtime/trampoline.hpp"

namespace ringline::runtime {

namespace {

thread_local event_loop* t_current = nullptr;

// Cancel requests complete too; nobody waits for them.
void ignore_completion(detail::operation& /*self*/, int /*res*/, std::uint32_t /*flags*/) noexcept {
}
constinit detail::operation g_ignored{&ignore_completion};

std::string read_io_uring_disabled() {
  std::ifstream sysctl("/proc/sys/kernel/io_uring_disabled");
  std::string value;
  sysctl >> value;
  return value;
}

[[noreturn]] void throw_unavailable(int error_number) {
  std::string why;
  if (error_number == ENOSYS) {
    why =
        "this kernel has no io_uring (older than 5.1, or built without CONFIG_IO_URING); "
        "run on Linux 5.19 or newer";
  } else {
    const std::string disabled = read_io_uring_disabled();
    if (!disabled.empty() && disabled != "0") {
      why = "the sysctl kernel.io_uring_disabled is " + disabled +
            "; set it to 0 (sysctl -w kernel.io_uring_disabled=0)";
    } else {
      why =
          "a seccomp profile blocks it, as Docker's default profile does; run with a profile "
          "that allows io_uring_setup, io_uring_enter and io_uring_register";
    }
  }
  const auto error = errno_code(error_number);
  throw io_uring_unavailable(
      error, "io_uring is not available (io_uring_setup: " + error.message() + "): " + why);
}

// Setup flags from best to plainest. DEFER_TASKRUN (6.1) runs completion work only when we
// ask for events, which batches it and keeps it off unrelated syscalls; COOP_TASKRUN (5.19)
// at least avoids interrupting the thread with IPIs.
struct setup_choice {
  unsigned flags;
  const char* name;
};
constexpr std::array<setup_choice, 3> k_setup_choices{{
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single_issuer+defer_taskrun"},
    {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
    {0, "none"},
}};

// IORING_MAX_CQ_ENTRIES: the kernel refuses more (EINVAL) unless IORING_SETUP_CLAMP is set.
constexpr unsigned k_max_completion_entries = 65536;

constexpr std::array<int, 11> k_required_opcodes{
    IORING_OP_POLL_ADD, IORING_OP_FSYNC,   IORING_OP_ACCEPT,       IORING_OP_RECV,
    IORING_OP_SEND,     IORING_OP_CONNECT, IORING_OP_CLOSE,        IORING_OP_TIMEOUT,
    IORING_OP_READ,     IORING_OP_WRITE,   IORING_OP_ASYNC_CANCEL,
};

}  // namespace

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

// liburing maps and unmaps a ring's memory with raw system calls, which ThreadSanitizer does
// not see: when a thread's ring is unmapped and the next ring, on another thread, is mapped
// at the same address, it takes the two threads' writes there for a data race. Mapping and
// unmapping under one lock orders them for it (and costs nothing: once per loop).
std::mutex g_ring_mappings;

void unmap_ring(io_uring* ring) {
  const std::lock_guard lock(g_ring_mappings);
  io_uring_queue_exit(ring);
}

}  // namespace

event_loop::event_loop(event_loop_options options) : m_ring(std::make_unique<io_uring>()) {
  assert(t_current == nullptr && "one event_loop per thread");
  int rc = -EINVAL;
  for (const auto& choice : k_setup_choices) {
    io_uring_params params{};
    params.flags = choice.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = std::clamp(
        options.completion_entries == 0 ? options.queue_depth * 2 : options.completion_entries,
        options.queue_depth, k_max_completion_entries);
    {
      const std::lock_guard lock(g_ring_mappings);
      rc = io_uring_queue_init_params(options.queue_depth, m_ring.get(), &params);
    }
    if (rc == 0) {
      m_features.setup_mode = choice.name;
      break;
    }
    if (rc != -EINVAL) {
      break;
    }
  }
  if (rc == -ENOSYS || rc == -EPERM) {
    throw_unavailable(-rc);
  }
  if (rc < 0) {
    throw std::system_error(errno_code(-rc), "io_uring_queue_init");
  }

  io_uring_probe* probe = io_uring_get_probe_ring(m_ring.get());
  if (probe == nullptr) {
    unmap_ring(m_ring.get());
    throw io_uring_unavailable(errno_code(ENOSYS),
                               "io_uring is not available: this kernel's io_uring is too old "
                               "to be probed; run on Linux 5.19 or newer");
  }
  for (int opcode : k_required_opcodes) {
    if (io_uring_opcode_supported(probe, opcode) == 0) {
      io_uring_free_probe(probe);
      unmap_ring(m_ring.get());
      throw io_uring_unavailable(errno_code(ENOSYS), "io_uring lacks opcode " +
                                                         std::to_string(opcode) +
                                                         " here (Linux 5.6 or newer is needed)");
    }
  }
  // No flag announces these; the opcodes that arrived in the same release stand in for them.
  m_features.cancel_any = io_uring_opcode_supported(probe, IORING_OP_SOCKET) != 0;
  m_features.multishot_accept = m_features.cancel_any;
  m_features.recv_multishot = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC) != 0;
  io_uring_free_probe(probe);
  if (!m_features.cancel_any) {
    // Without IORING_ASYNC_CANCEL_ANY the loop cannot cancel what is in flight at shutdown,
    // and so could not free a frame without the kernel possibly writing into it later.
    unmap_ring(m_ring.get());
    throw io_uring_unavailable(errno_code(ENOSYS),
                               "io_uring is not available: this kernel's io_uring is older "
                               "than Linux 5.19 (no IORING_ASYNC_CANCEL_ANY); run on 5.19 or "
                               "newer");
  }
  t_current = this;
}

event_loop::~event_loop() {
  cancel_everything_and_drain();
  unmap_ring(m_ring.get());
  t_current = nullptr;
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

namespace {

// Results of io_uring_enter that mean "try again" rather than a broken ring: EINTR (a
// signal), EAGAIN (the kernel could not allocate a request), EBUSY (older kernels refuse
// submissions while completions overflow the CQ), ETIME (a wait's timeout passed).
void throw_unless_transient(int rc, const char* what) {
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
    throw std::system_error(errno_code(-rc), what);
  }
}

}  // namespace

void event_loop::reserve_sqes(unsigned count) {
  assert(count <= m_ring->sq.ring_entries);
  while (io_uring_sq_space_left(m_ring.get()) < count) {
    const bool refused = m_simulate_busy && io_uring_cq_ready(m_ring.get()) > 0;
    const int rc = refused ? -EBUSY : io_uring_submit(m_ring.get());
    if (rc > 0 || rc == -EINTR) {
      continue;  // the kernel took entries, so there is room now (or the call is retried)
    }
    throw_unless_transient(rc, "io_uring_submit");
    make_room();
  }
}

void event_loop::make_room() {
  // Completions are only moved aside here, not handled: a handler resumes its coroutine,
  // and this runs inside a coroutine that is in the middle of submitting an operation.
  if (stash_completions() > 0) {
    return;
  }
  // Nothing in the CQ: have the kernel move overflowed completions (and, with
  // DEFER_TASKRUN, its deferred completion work) into it.
  throw_unless_transient(io_uring_get_events(m_ring.get()), "io_uring_get_events");
  if (stash_completions() > 0) {
    return;
  }
  // Still nothing to take: wait a little for a completion instead of spinning. Waiting
  // submits nothing (the kernel refused that), so with EXT_ARG the timeout needs no SQE.
  __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 1'000'000};
  io_uring_cqe* cqe = nullptr;
  throw_unless_transient(io_uring_wait_cqes(m_ring.get(), &cqe, 1, &wait, nullptr),
                         "io_uring_wait_cqes");
  stash_completions();
}

std::size_t event_loop::stash_completions() {
  std::array<io_uring_cqe*, 128> cqes{};
  std::size_t total = 0;
  for (;;) {
    const unsigned count = io_uring_peek_batch_cqe(m_ring.get(), cqes.data(), cqes.size());
    if (count == 0) {
      return total;
    }
    unsigned taken = 0;
    try {
      for (; taken < count; ++taken) {
        m_stash.push_back({static_cast<detail::operation*>(io_uring_cqe_get_data(cqes[taken])),
                           cqes[taken]->res, cqes[taken]->flags});
      }
    } catch (...) {
      io_uring_cq_advance(m_ring.get(), taken);  // keep what was stashed, and only that
      throw;
    }
    io_uring_cq_advance(m_ring.get(), count);
    total += count;
  }
}

io_uring_sqe* event_loop::acquire_sqe() {
  reserve_sqes(1);
  io_uring_sqe* sqe = io_uring_get_sqe(m_ring.get());
  assert(sqe != nullptr);
  ++m_in_flight;
  return sqe;
}

void event_loop::cancel(detail::operation& target) {
  io_uring_sqe* sqe = acquire_sqe();
  io_uring_prep_cancel(sqe, &target, 0);
  io_uring_sqe_set_data(sqe, &g_ignored);
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
      if (m_posted.empty() && m_in_flight == 0) {
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
  // Stashed completions are ready work: waiting for another one could sleep forever.
  const bool wait = may_block && m_stash.empty();
  // The non-blocking turn must ask for events too: with DEFER_TASKRUN, io_uring_submit
  // alone never runs the kernel's deferred completion work, so a coroutine that keeps
  // yielding would hold back every completion that arrives meanwhile.
  const int rc = wait ? wait_for_completion() : io_uring_submit_and_get_events(m_ring.get());
  throw_unless_transient(rc, wait ? "io_uring_submit_and_wait" : "io_uring_submit_and_get_events");
  m_turn_start = std::chrono::steady_clock::now();  // what this turn's deadlines count from
  reap();
  if (m_timers.armed() > 0 && !m_draining) {
    m_timers.expire(m_turn_start);
  }
}

int event_loop::wait_for_completion() {
  const auto sleep = m_timers.time_to_next(std::chrono::steady_clock::now());
  if (!sleep) {
    return io_uring_submit_and_wait(m_ring.get(), 1);
  }
  // EXT_ARG (5.11, and so on every kernel the loop accepts) carries the timeout in the
  // call itself: no timeout SQE, no completion to filter out.
  const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(*sleep).count();
  __kernel_timespec wait{.tv_sec = nanoseconds / 1'000'000'000,
                         .tv_nsec = nanoseconds % 1'000'000'000};
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(m_ring.get(), &cqe, 1, &wait, nullptr);
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

std::size_t event_loop::reap() {
  std::array<io_uring_cqe*, 128> cqes{};
  std::array<completion, 128> batch{};
  std::size_t total = 0;
  for (;;) {
    // Stashed completions are older than any still in the CQ, so they go first. Handlers may
    // stash more (by submitting); those are newer, and are delivered after.
    while (!m_stash.empty()) {
      const completion done = m_stash.front();
      m_stash.pop_front();
      deliver(done);
      ++total;
    }
    const unsigned count = io_uring_peek_batch_cqe(m_ring.get(), cqes.data(), cqes.size());
    if (count == 0) {
      return total;
    }
    // Copy out and release the CQ slots before resuming anyone: resumed coroutines submit
    // more work, and the kernel may then post into the slots we are done with.
    for (unsigned i = 0; i < count; ++i) {
      batch[i] = {static_cast<detail::operation*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res,
                  cqes[i]->flags};
    }
    io_uring_cq_advance(m_ring.get(), count);
    for (unsigned i = 0; i < count; ++i) {
      deliver(batch[i]);
    }
    total += count;
  }
}

void event_loop::deliver(const completion& done) noexcept {
  if ((done.flags & IORING_CQE_F_MORE) == 0) {
    --m_in_flight;
  }
  done.op->m_on_complete(*done.op, done.res, done.flags);
}

void event_loop::cancel_everything_and_drain() noexcept {
  m_draining = true;
  m_posted.clear();
  m_spawn_waiters.clear();
  bool drained = m_in_flight == 0;
  if (!drained && m_features.cancel_any) {
    try {
      io_uring_sqe* sqe = acquire_sqe();
      io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data(sqe, &g_ignored);
      // Completions still run their handlers (so cancellations and buffers are released), but
      // wake() resumes nobody while draining.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (m_in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
        __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 100'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait_timeout(m_ring.get(), &cqe, 1, &wait, nullptr);
        reap();
      }
    } catch (...) {
      // Fall through: the check below decides whether frames may be freed.
    }
    drained = m_in_flight == 0;
  }
  if (!drained) {
    // The kernel may still write into these frames; leaking them is the only safe choice.
    (void)std::fprintf(stderr,
                       "ringline: %zu io_uring operations did not finish at shutdown; "
                       "leaking their coroutine frames\n",
                       m_in_flight);
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

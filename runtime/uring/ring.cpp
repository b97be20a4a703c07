// Setting up the ring, and moving completions out of it.
#include "runtime/uring/ring.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <string>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/uring/factory.hpp"

namespace ringline::runtime::detail {

static_assert(k_completion_buffer == IORING_CQE_F_BUFFER &&
                  k_completion_more == IORING_CQE_F_MORE &&
                  k_buffer_shift == IORING_CQE_BUFFER_SHIFT,
              "completion flags are io_uring's, passed on untouched");

namespace {

std::string read_io_uring_disabled() {
  std::ifstream sysctl("/proc/sys/kernel/io_uring_disabled");
  std::string value;
  sysctl >> value;
  return value;
}

// True when a seccomp filter is installed on this thread ("Seccomp: 2" in /proc/self/status),
// which is how an ENOSYS from a container's profile differs from a kernel without io_uring.
bool seccomp_filtered() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Seccomp:")) {
      return line.find('2') != std::string::npos;
    }
  }
  return false;
}

[[noreturn]] void throw_unavailable(int error_number) {
  std::string why;
  if (error_number == ENOSYS && seccomp_filtered()) {
    why =
        "a seccomp profile answers ENOSYS for it, as Podman's default profile does (or this "
        "kernel lacks io_uring); run with a profile that allows io_uring_setup, "
        "io_uring_enter and io_uring_register";
  } else if (error_number == ENOSYS) {
    why =
        "this kernel has no io_uring (older than 5.1, or built without CONFIG_IO_URING); "
        "run on Linux 5.19 or newer";
  } else if (error_number == EINVAL) {
    why = "this kernel's io_uring is too old for the ring the loop asks for; run on 5.19 or newer";
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

struct required_opcode {
  int opcode;
  const char* name;
};
constexpr std::array<required_opcode, 11> k_required_opcodes{{
    {IORING_OP_POLL_ADD, "POLL_ADD"},
    {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_ACCEPT, "ACCEPT"},
    {IORING_OP_RECV, "RECV"},
    {IORING_OP_SEND, "SEND"},
    {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_CLOSE, "CLOSE"},
    {IORING_OP_TIMEOUT, "TIMEOUT"},
    {IORING_OP_READ, "READ"},
    {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
}};

// liburing maps and unmaps a ring's memory with raw system calls, which ThreadSanitizer does
// not see: when a thread's ring is unmapped and the next ring, on another thread, is mapped
// at the same address, it takes the two threads' writes there for a data race. Mapping and
// unmapping under one lock orders them for it (and costs nothing: once per loop).
std::mutex g_ring_mappings;

void unmap_ring(io_uring* ring) {
  const std::lock_guard lock(g_ring_mappings);
  io_uring_queue_exit(ring);
}

// Probes the opcodes; throws io_uring_unavailable, after unmapping the ring, when one is
// missing.
void probe(io_uring& ring, ring_features& features) {
  io_uring_probe* found = io_uring_get_probe_ring(&ring);
  if (found == nullptr) {
    unmap_ring(&ring);
    throw io_uring_unavailable(errno_code(ENOSYS),
                               "io_uring is not available: this kernel's io_uring is too old "
                               "to be probed; run on Linux 5.19 or newer");
  }
  for (const auto& each : k_required_opcodes) {
    if (io_uring_opcode_supported(found, each.opcode) == 0) {
      io_uring_free_probe(found);
      unmap_ring(&ring);
      throw io_uring_unavailable(errno_code(ENOSYS),
                                 std::string("io_uring is not available: it lacks the opcode "
                                             "IORING_OP_") +
                                     each.name + " here (Linux 5.6 or newer is needed)");
    }
  }
  // No flag announces these; the opcodes that arrived in the same release stand in for them.
  features.cancel_any = io_uring_opcode_supported(found, IORING_OP_SOCKET) != 0;
  features.multishot_accept = features.cancel_any;
  features.recv_multishot = io_uring_opcode_supported(found, IORING_OP_SEND_ZC) != 0;
  io_uring_free_probe(found);
  if (!features.cancel_any) {
    // Without IORING_ASYNC_CANCEL_ANY the loop cannot cancel what is in flight at shutdown,
    // and so could not free a frame without the kernel possibly writing into it later.
    unmap_ring(&ring);
    throw io_uring_unavailable(errno_code(ENOSYS),
                               "io_uring is not available: it lacks IORING_OP_SOCKET and "
                               "IORING_ASYNC_CANCEL_ANY here (older than Linux 5.19); run on "
                               "5.19 or newer");
  }
}

// Results of io_uring_enter that mean "try again" rather than a broken ring: EINTR (a
// signal), EAGAIN (the kernel could not allocate a request), EBUSY (older kernels refuse
// submissions while completions overflow the CQ), ETIME (a wait's timeout passed).
void throw_unless_transient(int rc, const char* what) {
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
    throw std::system_error(errno_code(-rc), what);
  }
}

// Cancel requests complete too; nobody waits for them.
void ignore_completion(operation& /*self*/, int /*res*/, std::uint32_t /*flags*/) noexcept {}
constinit operation g_ignored{&ignore_completion};

}  // namespace

backend_ptr make_uring_backend(const event_loop_options& options, ring_features& features) {
  return backend_ptr(new uring_backend(options, features));
}

uring_backend::uring_backend(const event_loop_options& options, ring_features& features)
    : backend(functions_of<uring_backend>()) {
  io_uring& ring = m_ring;
  int rc = -EINVAL;
  for (const auto& choice : k_setup_choices) {
    io_uring_params params{};
    params.flags = choice.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = std::clamp(
        options.completion_entries == 0 ? options.queue_depth * 2 : options.completion_entries,
        options.queue_depth, k_max_completion_entries);
    {
      const std::lock_guard lock(g_ring_mappings);
      rc = io_uring_queue_init_params(options.queue_depth, &ring, &params);
    }
    if (rc == 0) {
      features.setup_mode = choice.name;
      break;
    }
    if (rc != -EINVAL) {
      break;
    }
  }
  if (rc == -ENOSYS || rc == -EPERM || rc == -EINVAL) {
    throw_unavailable(-rc);
  }
  if (rc < 0) {
    throw std::system_error(errno_code(-rc), "io_uring_queue_init");
  }
  probe(ring, features);
  features.backend = backend_kind::io_uring;
}

uring_backend::~uring_backend() {
  unmap_ring(&m_ring);
}

io_uring_sqe* uring_backend::acquire_sqe() {
  while (io_uring_sq_space_left(&m_ring) < 1) {
    const bool refused = m_simulate_busy && io_uring_cq_ready(&m_ring) > 0;
    const int rc = refused ? -EBUSY : io_uring_submit(&m_ring);
    if (rc > 0 || rc == -EINTR) {
      continue;  // the kernel took entries, so there is room now (or the call is retried)
    }
    throw_unless_transient(rc, "io_uring_submit");
    make_room();
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
  assert(sqe != nullptr);
  ++m_in_flight;
  return sqe;
}

void uring_backend::make_room() {
  // Completions are only moved aside here, not handled: a handler resumes its coroutine,
  // and this runs inside a coroutine that is in the middle of submitting an operation.
  if (stash_completions() > 0) {
    return;
  }
  // Nothing in the CQ: have the kernel move overflowed completions (and, with
  // DEFER_TASKRUN, its deferred completion work) into it.
  throw_unless_transient(io_uring_get_events(&m_ring), "io_uring_get_events");
  if (stash_completions() > 0) {
    return;
  }
  // Still nothing to take: wait a little for a completion instead of spinning. Waiting
  // submits nothing (the kernel refused that), so with EXT_ARG the timeout needs no SQE.
  __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 1'000'000};
  io_uring_cqe* cqe = nullptr;
  throw_unless_transient(io_uring_wait_cqes(&m_ring, &cqe, 1, &wait, nullptr),
                         "io_uring_wait_cqes");
  stash_completions();
}

std::size_t uring_backend::stash_completions() {
  std::array<io_uring_cqe*, 128> cqes{};
  std::size_t total = 0;
  for (;;) {
    const unsigned count = io_uring_peek_batch_cqe(&m_ring, cqes.data(), cqes.size());
    if (count == 0) {
      return total;
    }
    unsigned taken = 0;
    try {
      for (; taken < count; ++taken) {
        m_stash.push_back({static_cast<operation*>(io_uring_cqe_get_data(cqes[taken])),
                           cqes[taken]->res, cqes[taken]->flags});
      }
    } catch (...) {
      io_uring_cq_advance(&m_ring, taken);  // keep what was stashed, and only that
      throw;
    }
    io_uring_cq_advance(&m_ring, count);
    total += count;
  }
}

void uring_backend::cancel(operation& target) {
  io_uring_sqe* sqe = acquire_sqe();
  io_uring_prep_cancel(sqe, &target, 0);
  io_uring_sqe_set_data(sqe, &g_ignored);
}

void uring_backend::wait(std::optional<std::chrono::nanoseconds> timeout) {
  // Stashed completions are ready work: waiting for another one could sleep forever.
  if (!m_stash.empty()) {
    timeout = std::chrono::nanoseconds::zero();
  }
  int rc = 0;
  const char* what = "io_uring_submit_and_wait";
  if (!timeout) {
    rc = io_uring_submit_and_wait(&m_ring, 1);
  } else if (timeout->count() <= 0) {
    // The non-blocking turn must ask for events too: with DEFER_TASKRUN, io_uring_submit
    // alone never runs the kernel's deferred completion work, so a coroutine that keeps
    // yielding would hold back every completion that arrives meanwhile.
    rc = io_uring_submit_and_get_events(&m_ring);
    what = "io_uring_submit_and_get_events";
  } else {
    // EXT_ARG (5.11, and so on every kernel the loop accepts) carries the timeout in the
    // call itself: no timeout SQE, no completion to filter out.
    const auto nanoseconds = timeout->count();
    __kernel_timespec wait{.tv_sec = nanoseconds / 1'000'000'000,
                           .tv_nsec = nanoseconds % 1'000'000'000};
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, &wait, nullptr);
  }
  throw_unless_transient(rc, what);
}

std::size_t uring_backend::reap() {
  std::array<io_uring_cqe*, 128> cqes{};
  std::array<completion, 128> batch{};
  std::size_t total = 0;
  for (;;) {
    // Stashed completions are older than any still in the CQ, so they go first. Handlers may
    // stash more (while submitting); those are newer, and are delivered after.
    while (!m_stash.empty()) {
      const completion done = m_stash.front();
      m_stash.pop_front();
      deliver(done);
      ++total;
    }
    const unsigned count = io_uring_peek_batch_cqe(&m_ring, cqes.data(), cqes.size());
    if (count == 0) {
      return total;
    }
    // Copy out and release the CQ slots before resuming anyone: resumed coroutines submit
    // more work, and the kernel may then post into the slots we are done with.
    for (unsigned i = 0; i < count; ++i) {
      batch[i] = {static_cast<operation*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res,
                  cqes[i]->flags};
    }
    io_uring_cq_advance(&m_ring, count);
    for (unsigned i = 0; i < count; ++i) {
      deliver(batch[i]);
    }
    total += count;
  }
}

void uring_backend::deliver(const completion& done) noexcept {
  if ((done.flags & IORING_CQE_F_MORE) == 0) {
    --m_in_flight;
  }
  done.op->m_on_complete(*done.op, done.res, done.flags);
}

bool uring_backend::cancel_all(std::chrono::nanoseconds limit) noexcept {
  if (m_in_flight == 0) {
    return true;
  }
  try {
    io_uring_sqe* sqe = acquire_sqe();
    io_uring_prep_cancel(sqe, nullptr, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data(sqe, &g_ignored);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (m_in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
      __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 100'000'000};
      io_uring_cqe* cqe = nullptr;
      io_uring_submit_and_wait_timeout(&m_ring, &cqe, 1, &wait, nullptr);
      reap();
    }
  } catch (...) {
    // Fall through: what is left in flight decides whether frames may be freed.
  }
  return m_in_flight == 0;
}

}  // namespace ringline::runtime::detail

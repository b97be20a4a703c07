#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/backend.hpp"
#include "runtime/operation.hpp"
#include "runtime/task.hpp"
#include "runtime/timer_wheel.hpp"

namespace ringline::runtime {

/// Thrown by the event_loop constructor when io_uring was asked for and the kernel refuses it
/// (ENOSYS: kernel too old or built without it; EPERM: kernel.io_uring_disabled or a seccomp
/// profile; EINVAL, or an opcode missing: too old). what() is one line naming the cause and
/// the remedy, fit to print as it is. backend_kind::automatic takes epoll instead.
class io_uring_unavailable : public std::system_error {
 public:
  io_uring_unavailable(std::error_code error, std::string message)
      : std::system_error(error), m_message(std::move(message)) {}
  [[nodiscard]] const char* what() const noexcept override { return m_message.c_str(); }

 private:
  std::string m_message;
};

/// What the kernel offered when the loop was set up, probed once.
struct ring_features {
  /// The backend the loop runs on: io_uring or epoll, never automatic.
  backend_kind backend = backend_kind::io_uring;
  /// Which setup flags the ring got: "single_issuer+defer_taskrun", "coop_taskrun" or "none";
  /// "epoll" on the epoll backend.
  std::string setup_mode;
  bool cancel_any = false;        ///< IORING_ASYNC_CANCEL_ANY (5.19)
  bool multishot_accept = false;  ///< IORING_ACCEPT_MULTISHOT (5.19)
  bool recv_multishot = false;    ///< IORING_RECV_MULTISHOT with provided buffers (6.0)
};

/// Options for an event_loop.
struct event_loop_options {
  /// Submission queue entries.
  unsigned queue_depth = 1024;
  /// Completion queue entries (rounded up to a power of two by the kernel, at most 65,536);
  /// zero: twice queue_depth. Size it for the operations that may complete at once: every
  /// connection's receive, say. Completions beyond it wait in the kernel's overflow list
  /// and are still delivered, in order, only more slowly.
  unsigned completion_entries = 0;
  /// The kernel interface; by default runtime::default_backend().
  backend_kind backend = default_backend();
};

/// Runs coroutines on one io_uring or one epoll instance (a backend), on the thread that
/// created it.
///
/// Operations (runtime/io.hpp) start on the current thread's loop; once per turn the loop
/// has its backend submit them, wait for completions and deliver them, which resumes the
/// coroutines they belong to. One loop per thread (thread-per-core); the loop and everything
/// it runs are used from that thread only, so nothing here is synchronised.
///
/// Ownership: run() and spawn() take the tasks they are given. When the loop is destroyed it
/// cancels every operation still in flight, waits for the kernel to deliver their
/// completions, and only then destroys the frames of spawned tasks that have not finished,
/// so no frame is freed while the kernel may still write into it.
class event_loop {
 public:
  /// Sets up the backend. io_uring prefers SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN,
  /// then no flags, and throws io_uring_unavailable when it is refused; automatic then takes
  /// epoll (fallback_reason() says why). Throws std::system_error for other setup failures
  /// (ENOMEM: RLIMIT_MEMLOCK on old kernels, EMFILE). At most one loop per thread.
  explicit event_loop(event_loop_options options = {});
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  /// Returns the loop of the calling thread; there must be one.
  static event_loop& current() noexcept;

  /// Runs `main` to completion on this thread, processing I/O and spawned tasks meanwhile;
  /// returns its value or rethrows its exception. Also rethrows the first exception that
  /// escaped a spawned task. Throws std::logic_error if `main` waits for something that can
  /// never happen (nothing in flight, nothing ready).
  template <typename T>
  T run(task<T> main) {
    drive(main.handle());
    if (main.handle().promise().failed() && m_spawned_count > 0) {
      // Spawned tasks may refer to the failed task's frame, which dies with this function:
      // they go first (their I/O cancelled and drained), leaving the loop fit only to be
      // destroyed.
      cancel_everything_and_drain();
    }
    return main.handle().promise().take_result();
  }

  /// Starts `work` as a detached task owned by the loop: its frame is destroyed when it
  /// finishes, or when the loop is destroyed. An exception escaping it is rethrown by run().
  void spawn(task<void> work);

  /// Returns how many spawned tasks have not finished yet.
  [[nodiscard]] std::size_t spawned_count() const noexcept { return m_spawned_count; }

  /// Awaitable that suspends until no spawned task is left (at once if there is none).
  class spawned_awaiter {
   public:
    explicit spawned_awaiter(event_loop& loop) noexcept : m_loop(loop) {}
    [[nodiscard]] bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> waiter);
    void await_resume() const noexcept {}

   private:
    event_loop& m_loop;
  };

  /// Returns an awaitable that completes when every spawned task has finished.
  [[nodiscard]] spawned_awaiter wait_for_spawned() noexcept;

  /// Resumes `handle` on the next turn of the loop; the way to wake another coroutine.
  void post(std::coroutine_handle<> handle);

  /// Returns what the kernel offered at setup.
  [[nodiscard]] const ring_features& features() const noexcept { return m_features; }

  /// Returns why backend_kind::automatic passed io_uring over (one line), or "".
  [[nodiscard]] const std::string& fallback_reason() const noexcept { return m_fallback_reason; }

  /// Returns the number of operations started whose last completion has not arrived yet.
  [[nodiscard]] std::size_t in_flight() const noexcept { return m_backend->in_flight(); }

  // For runtime/*.cpp: the backend that starts operations.
  [[nodiscard]] detail::backend& backend() noexcept { return *m_backend; }
  // For runtime/buffer_ring.cpp: a buffer group id not used before on this loop.
  [[nodiscard]] std::uint16_t allocate_buffer_group() noexcept { return m_next_buffer_group++; }
  // For runtime/io.cpp: starts `request` on the backend (its completion arrives on a later
  // turn). Throws std::system_error only when the backend itself fails.
  void start(detail::io_request& request) { m_backend->start(request); }
  // For tests of the io_uring backend: while on, a submission made to find room for an SQE
  // is refused with EBUSY whenever the CQ holds completions not yet taken out, as older
  // kernels refuse while completions overflow the CQ.
  void simulate_busy_kernel_for_testing(bool on) noexcept {
    m_backend->simulate_busy_kernel_for_testing(on);
  }
  // For runtime/io.cpp: true once the loop is shutting down; operations then stop resubmitting.
  [[nodiscard]] bool draining() const noexcept { return m_draining; }
  // For runtime/io.cpp: resumes `handle` now, unless the loop is shutting down (then the
  // frame is about to be destroyed and must not run again).
  void wake(std::coroutine_handle<> handle) const noexcept;
  // For runtime/io.cpp: asks the backend to cancel `target` (its completion still arrives).
  void cancel(detail::operation& target) { m_backend->cancel(target); }
  // For runtime/io.cpp: the deadlines of operations in flight, expired once per turn.
  [[nodiscard]] timer_wheel& timers() noexcept { return m_timers; }
  // For runtime/io.cpp: when the current turn's wait returned, which deadlines count from.
  // Whatever led to an operation (a completion, a post from another thread) happened before
  // that, so a deadline still never fires before its time has passed since then; and the
  // clock is read once per turn instead of once per operation (a quarter of the server's
  // user time at C=50 P=1).
  [[nodiscard]] std::chrono::steady_clock::time_point turn_start() const noexcept {
    return m_turn_start;
  }

  // For the spawned-task promise (event_loop.cpp).
  struct spawned_node;
  void finished(spawned_node& node) noexcept;
  void failed(std::exception_ptr error) noexcept;

 private:
  void drive(std::coroutine_handle<> main);
  void turn(bool may_block);
  void run_posted();
  void cancel_everything_and_drain() noexcept;

  detail::backend_ptr m_backend;
  ring_features m_features;
  std::string m_fallback_reason;
  std::deque<std::coroutine_handle<>> m_posted;
  timer_wheel m_timers;
  std::chrono::steady_clock::time_point m_turn_start = std::chrono::steady_clock::now();
  spawned_node* m_spawned_head = nullptr;
  std::size_t m_spawned_count = 0;
  std::vector<std::coroutine_handle<>> m_spawn_waiters;
  std::exception_ptr m_spawn_error;
  bool m_draining = false;
  std::uint16_t m_next_buffer_group = 0;
};

}  // namespace ringline::runtime

#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/operation.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime::detail {

/// A thread that does the epoll backend's file I/O: reads and writes of regular files, pipes
/// and devices, and fdatasync. epoll cannot make those asynchronous (a regular file is always
/// "ready", and then blocks in the write), so the loop hands them over and goes on; each
/// result comes back through an eventfd the loop's epoll watches, as libuv does it. The loop
/// thread never waits for the disk, so --durable group commit keeps its batches.
///
/// One request at a time runs, in the order submitted: writes to the sink keep their order.
/// Started at the first request; stopped and joined when destroyed (after the request
/// running, if any). A request that runs can be cancelled as io_uring's worker threads are:
/// a signal (k_interrupt_signal, whose handler does nothing) interrupts its system call, so a
/// write into a FIFO nobody reads ends with EINTR instead of blocking shutdown forever.
class file_worker {
 public:
  /// A finished request and its result (a byte count or -errno).
  struct done {
    io_request* request;
    int res;
  };

  file_worker();
  ~file_worker();
  file_worker(const file_worker&) = delete;
  file_worker& operator=(const file_worker&) = delete;

  /// The eventfd that becomes readable when results wait in take_done().
  [[nodiscard]] int event_fd() const noexcept { return m_event.get(); }

  /// Queues `request`. Throws std::system_error when the thread cannot start.
  void submit(io_request& request);
  /// Takes `request` back if it has not started; returns false when it runs or ran. A running
  /// request is interrupted instead: it ends soon with what it did, or -ECANCELED.
  bool withdraw(io_request& request) noexcept;
  /// Interrupts the running request again if it was cancelled and still runs (the signal may
  /// have come just before its system call began).
  /// Returns true when it did (the caller should come back soon to try again).
  bool interrupt_again() noexcept;
  /// The signal that interrupts the worker's system calls.
  static int interrupt_signal() noexcept;
  /// Takes back every request that has not started, into `out`, and interrupts the running
  /// one.
  void withdraw_all(std::vector<io_request*>& out);
  /// Moves the finished requests into `out`, oldest first.
  void take_done(std::vector<done>& out);

 private:
  void run() noexcept;
  int perform(const io_request& request) noexcept;
  void interrupt() noexcept;

  unique_fd m_event;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<io_request*> m_queue;
  std::vector<done> m_done;
  bool m_stop = false;
  io_request* m_running = nullptr;
  // Set under m_mutex; read without it by interrupt_again(), on every turn of the loop.
  std::atomic<bool> m_cancel_running{false};
  std::thread m_thread;
};

}  // namespace ringline::runtime::detail

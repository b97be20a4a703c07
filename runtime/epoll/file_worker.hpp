#pragma once

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
/// running, if any).
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
  /// Takes `request` back if it has not started; returns false when it runs or ran.
  bool withdraw(io_request& request) noexcept;
  /// Takes back every request that has not started, into `out`.
  void withdraw_all(std::vector<io_request*>& out);
  /// Moves the finished requests into `out`, oldest first.
  void take_done(std::vector<done>& out);

 private:
  void run() noexcept;
  static int perform(const io_request& request) noexcept;

  unique_fd m_event;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<io_request*> m_queue;
  std::vector<done> m_done;
  bool m_stop = false;
  std::thread m_thread;
};

}  // namespace ringline::runtime::detail

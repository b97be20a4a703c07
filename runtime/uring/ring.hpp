#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>

#include "runtime/backend.hpp"

namespace ringline::runtime::detail {

/// The io_uring backend: operations become SQEs, submitted in one batch per turn; their CQEs
/// are reaped in batches and delivered.
class uring_backend final : public backend {
 public:
  /// Sets up the ring; see make_uring_backend().
  uring_backend(const event_loop_options& options, ring_features& features);
  ~uring_backend();

  void start(io_request& request);
  void cancel(operation& target);
  void wait(std::optional<std::chrono::nanoseconds> timeout);
  void deliver() { reap(); }
  bool cancel_all(std::chrono::nanoseconds limit) noexcept;
  [[nodiscard]] std::size_t in_flight() const noexcept { return m_in_flight; }
  result<void> add_buffers(buffer_ring& ring);
  void remove_buffers(buffer_ring& ring) noexcept;
  void give_back(buffer_ring& ring, std::uint16_t id) noexcept;
  void forget(int /*fd*/) noexcept {}
  void simulate_busy_kernel_for_testing(bool on) noexcept { m_simulate_busy = on; }

 private:
  // Returns a free SQE (submitting queued ones first if the queue is full), already counted
  // as in flight; the caller must fill it in before the next turn. When the kernel cannot
  // take the entries it moves completions out of the CQ into a stash (their handlers run at
  // the next reap, never here) and waits briefly for room. Throws std::system_error only
  // when the ring itself fails.
  io_uring_sqe* acquire_sqe();
  void make_room();
  std::size_t stash_completions();
  std::size_t reap();
  // A completion taken out of the CQ, waiting for its handler.
  struct completion {
    operation* op;
    int res;
    std::uint32_t flags;
  };
  void deliver(const completion& done) noexcept;

  io_uring m_ring{};
  std::size_t m_in_flight = 0;
  // Completions moved out of the CQ while an SQE was being reserved; older than anything
  // still in the CQ, so the next reap delivers them first.
  std::deque<completion> m_stash;
  bool m_simulate_busy = false;
};

}  // namespace ringline::runtime::detail

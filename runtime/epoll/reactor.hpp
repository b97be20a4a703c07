#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/backend.hpp"
#include "runtime/epoll/file_worker.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime::detail {

/// The epoll backend: a socket operation is tried at once and, when the socket is not ready
/// (EAGAIN), waits in its descriptor's queue for the next edge; file I/O goes to a
/// file_worker; sleeps wait in a sorted list. Every descriptor is registered once,
/// edge-triggered, for EPOLLIN|EPOLLOUT|EPOLLRDHUP, at its first wait; sockets are made
/// non-blocking then. Completions are delivered from deliver(), never from start(), as
/// io_uring's are.
class epoll_backend final : public backend {
 public:
  epoll_backend();
  ~epoll_backend();

  void start(io_request& request);
  void cancel(operation& target);
  void wait(std::optional<std::chrono::nanoseconds> timeout);
  void deliver();
  bool cancel_all(std::chrono::nanoseconds limit) noexcept;
  [[nodiscard]] std::size_t in_flight() const noexcept { return m_in_flight; }
  result<void> add_buffers(buffer_ring& ring);
  void remove_buffers(buffer_ring& ring) noexcept;
  void give_back(buffer_ring& ring, std::uint16_t id) noexcept;
  void forget(int fd) noexcept;
  void simulate_busy_kernel_for_testing(bool /*on*/) noexcept {}

 private:
  enum class fd_type : std::uint8_t { unknown, socket, pollable, file };
  // Where a request waits (io_request::m_parked).
  enum where : std::uint8_t { nowhere, reading, writing, sleeping, in_worker };

  struct descriptor {
    io_request* readers = nullptr;  // waiting for input, oldest first
    io_request* writers = nullptr;  // waiting for room, oldest first
    fd_type type = fd_type::unknown;
    bool registered = false;
    // False after a short read: the socket is drained, and the next read waits for an edge
    // instead of trying (and failing with EAGAIN) first.
    bool readable = true;
    // The peer's FIN is queued: read on to EOF, as no edge will come for it.
    bool hung_up = false;
    // Refuses RWF_NOWAIT writes (a terminal): the file worker writes to it.
    bool no_nowait = false;
  };
  struct completion {
    io_request* request;
    int res;
    std::uint32_t flags;
  };

  descriptor& entry(int fd);
  fd_type classify(int fd, descriptor& state) noexcept;
  // Tries the request's system call once; returns its result (-EAGAIN: not ready;
  // k_use_worker: the file worker must do it).
  static constexpr int k_use_worker = -0x10000;
  int attempt(io_request& request, descriptor& state, std::uint32_t& flags) noexcept;
  int attempt_pooled(io_request& request, descriptor& state, std::uint32_t& flags) noexcept;
  void try_or_park(io_request& request, descriptor& state, bool write);
  void park(io_request& request, descriptor& state, bool write);
  void retry(io_request* waiting, descriptor& state, bool write);
  void complete(io_request& request, int res, std::uint32_t flags = 0);
  void unlink(io_request& request) noexcept;
  void on_event(const epoll_event& event);
  void expire_sleepers(std::chrono::steady_clock::time_point now);

  unique_fd m_epoll;
  file_worker m_worker;
  // A deque: growing it keeps references to entries valid (an accept grows it while the
  // listening socket's entry is in use).
  std::deque<descriptor> m_descriptors;
  std::vector<completion> m_ready;
  std::vector<completion> m_delivering;
  std::vector<file_worker::done> m_worker_done;
  std::multimap<std::chrono::steady_clock::time_point, io_request*> m_sleepers;
  std::vector<buffer_ring*> m_pools;  // by buffer group
  std::array<epoll_event, 256> m_events{};
  int m_event_count = 0;
  std::size_t m_in_flight = 0;
};

}  // namespace ringline::runtime::detail

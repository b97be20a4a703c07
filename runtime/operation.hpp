#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace ringline::runtime::detail {

/// What a backend holds for each operation in flight: the state of one operation, and where
/// its completions go.
///
/// The object lives in the frame of the coroutine that awaits the operation, so that frame
/// must not be destroyed until the operation's last completion (the one without
/// k_completion_more) has been delivered. A function pointer rather than a virtual keeps the
/// type an aggregate with no vtable in every awaiter.
struct operation {
  /// Called by the backend with each completion: `res` is a byte count, a descriptor, or
  /// -errno; `flags` is a mask of the k_completion_* bits below.
  using completion_fn = void (*)(operation& self, int res, std::uint32_t flags) noexcept;
  completion_fn m_on_complete = nullptr;
};

/// Completion flags, the same bits whichever backend delivers them (they are io_uring's
/// CQE flags, so that backend passes them on untouched).
/// The completion carries a buffer of a buffer_ring, whose id is flags >> k_buffer_shift.
inline constexpr std::uint32_t k_completion_buffer = 1U << 0;
/// More completions follow for the same operation (multishot requests).
inline constexpr std::uint32_t k_completion_more = 1U << 1;
inline constexpr unsigned k_buffer_shift = 16;

/// What an operation asks a backend to do.
enum class io_kind : std::uint8_t {
  accept,
  accept_multishot,
  recv,
  send,
  read,
  write,
  connect,
  close,
  sleep,
  poll,
  datasync,
  recv_pooled
};

/// An operation and its arguments, as a backend reads them when it starts the operation
/// (io_uring: into an SQE; epoll: at each attempt until the descriptor is ready).
struct io_request : operation {
  /// The buffer; for accept, connect and sleep the address or timespec. The transfer goes
  /// on at m_data + m_done for m_size - m_done bytes.
  char* m_data = nullptr;
  std::size_t m_size = 0;
  std::size_t m_done = 0;
  /// MSG_* for receives and sends, RWF_* for writes, SOCK_* for accepts.
  int m_msg_flags = 0;
  int m_fd = -1;
  socklen_t m_address_size = 0;      // accept, connect: the length of the address at m_data
  std::uint16_t m_buffer_group = 0;  // recv_pooled: the buffer_ring to pick from
  io_kind m_kind = io_kind::recv;
  /// The epoll backend's: where the request waits (a descriptor's queue, the sleepers, the
  /// file worker), and the next request waiting with it.
  std::uint8_t m_parked = 0;
  io_request* m_next = nullptr;
};

}  // namespace ringline::runtime::detail

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "runtime/result.hpp"

namespace ringline::runtime {

class event_loop;
namespace detail {
class uring_backend;
class epoll_backend;
}  // namespace detail

/// A ring of equal-sized receive buffers the backend picks from when data arrives, so a
/// connection waiting for input holds no buffer of its own: memory follows the traffic, not
/// the number of connections. On io_uring the kernel picks (IORING_REGISTER_PBUF_RING, Linux
/// 5.19); on epoll the backend does, as it receives once the socket is readable.
///
/// Owned by the caller; registered with one event_loop, used on its thread only, and
/// destroyed before that loop. Buffers are lent out as received_buffer and come back when
/// the lease ends.
class buffer_ring {
 public:
  /// Registers `count` (a power of two, at most 32768) buffers of `buffer_size` bytes on the
  /// current thread's loop, under a buffer group id of their own. Returns EINVAL (or what the
  /// kernel said) where provided buffer rings are not supported; callers then receive into
  /// buffers of their own.
  static result<std::unique_ptr<buffer_ring>> create(unsigned count, std::size_t buffer_size);
  ~buffer_ring();
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  [[nodiscard]] std::uint16_t group() const noexcept { return m_group; }
  [[nodiscard]] std::size_t buffer_size() const noexcept { return m_buffer_size; }
  /// Returns how many buffers are lent out now.
  [[nodiscard]] unsigned lent() const noexcept { return m_lent; }

  /// For received_buffer and io.cpp: the memory of buffer `id`; counting it as lent.
  [[nodiscard]] char* lend(std::uint16_t id) noexcept;
  /// Hands buffer `id` back to the backend.
  void give_back(std::uint16_t id) noexcept;

  /// For the backends: the memory of buffer `id`.
  [[nodiscard]] char* memory_of(std::uint16_t id) const noexcept {
    return m_memory.get() + static_cast<std::size_t>(id) * m_buffer_size;
  }
  [[nodiscard]] unsigned count() const noexcept { return m_count; }

 private:
  friend class detail::uring_backend;
  friend class detail::epoll_backend;
  buffer_ring(event_loop& loop, std::uint16_t group, unsigned count, std::size_t buffer_size);

  event_loop& m_loop;
  std::uint16_t m_group;
  unsigned m_count;
  std::size_t m_buffer_size;
  std::unique_ptr<char[]> m_memory;
  unsigned m_lent = 0;
  bool m_registered = false;
  // io_uring: the ring of buffer descriptors, mmap'ed and shared with the kernel.
  void* m_kernel_ring = nullptr;
  // epoll: the ids of the buffers not lent out, the next to lend last.
  std::vector<std::uint16_t> m_free;
};

/// A buffer lent by a buffer_ring and the bytes received into it; hands the buffer back to
/// the kernel when destroyed. Move-only. Drop it as soon as the bytes are consumed: while
/// it lives, the kernel cannot use that buffer for anyone.
class received_buffer {
 public:
  received_buffer() noexcept = default;
  received_buffer(buffer_ring& ring, std::uint16_t id, std::size_t size) noexcept
      : m_ring(&ring), m_data(ring.lend(id)), m_id(id), m_size(size) {}
  received_buffer(received_buffer&& other) noexcept
      : m_ring(std::exchange(other.m_ring, nullptr)),
        m_data(other.m_data),
        m_id(other.m_id),
        m_size(other.m_size) {}
  received_buffer& operator=(received_buffer&& other) noexcept {
    if (this != &other) {
      reset();
      m_ring = std::exchange(other.m_ring, nullptr);
      m_data = other.m_data;
      m_id = other.m_id;
      m_size = other.m_size;
    }
    return *this;
  }
  received_buffer(const received_buffer&) = delete;
  received_buffer& operator=(const received_buffer&) = delete;
  ~received_buffer() { reset(); }

  /// Returns the received bytes (empty at end of stream).
  [[nodiscard]] std::span<const char> data() const noexcept {
    return {m_data, m_ring != nullptr ? m_size : 0};
  }

  /// Gives the buffer back now.
  void reset() noexcept {
    if (m_ring != nullptr) {
      std::exchange(m_ring, nullptr)->give_back(m_id);
    }
  }

 private:
  buffer_ring* m_ring = nullptr;
  char* m_data = nullptr;
  std::uint16_t m_id = 0;
  std::size_t m_size = 0;
};

}  // namespace ringline::runtime

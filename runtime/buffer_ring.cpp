#include "runtime/buffer_ring.hpp"

#include <liburing.h>
#include <sys/mman.h>

#include <cassert>
#include <cerrno>

#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"

namespace ringline::runtime {

result<std::unique_ptr<buffer_ring>> buffer_ring::create(unsigned count, std::size_t buffer_size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || buffer_size == 0 ||
      buffer_size > (1U << 30)) {
    return std::errc::invalid_argument;
  }
  auto& loop = event_loop::current();
  std::unique_ptr<buffer_ring> ring(
      new buffer_ring(loop, loop.allocate_buffer_group(), count, buffer_size));
  // The ring of buffer descriptors is shared with the kernel; it wants page-aligned memory.
  void* shared = ::mmap(nullptr, count * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (shared == MAP_FAILED) {
    return last_errno();
  }
  ring->m_ring = static_cast<io_uring_buf_ring*>(shared);
  io_uring_buf_ring_init(ring->m_ring);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uintptr_t>(shared);
  registration.ring_entries = count;
  registration.bgid = ring->m_group;
  if (const int rc = io_uring_register_buf_ring(ring->m_loop.native(), &registration, 0); rc < 0) {
    return errno_code(-rc);
  }
  ring->m_registered = true;
  // Not zeroed: pages become resident only once the kernel first receives into them.
  ring->m_memory = std::make_unique_for_overwrite<char[]>(count * buffer_size);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(ring->m_ring, ring->m_memory.get() + id * buffer_size,
                          static_cast<unsigned>(buffer_size), static_cast<unsigned short>(id), mask,
                          static_cast<int>(id));
  }
  io_uring_buf_ring_advance(ring->m_ring, static_cast<int>(count));
  return ring;
}

buffer_ring::buffer_ring(event_loop& loop, std::uint16_t group, unsigned count,
                         std::size_t buffer_size)
    : m_loop(loop), m_group(group), m_count(count), m_buffer_size(buffer_size) {}

buffer_ring::~buffer_ring() {
  assert(m_lent == 0 && "a received_buffer outlives its ring");
  if (m_registered) {
    (void)io_uring_unregister_buf_ring(m_loop.native(), m_group);
  }
  if (m_ring != nullptr) {
    ::munmap(m_ring, m_count * sizeof(io_uring_buf));
  }
}

char* buffer_ring::lend(std::uint16_t id) noexcept {
  assert(id < m_count);
  ++m_lent;
  return m_memory.get() + static_cast<std::size_t>(id) * m_buffer_size;
}

void buffer_ring::give_back(std::uint16_t id) noexcept {
  assert(m_lent > 0);
  --m_lent;
  io_uring_buf_ring_add(m_ring, m_memory.get() + static_cast<std::size_t>(id) * m_buffer_size,
                        static_cast<unsigned>(m_buffer_size), id, io_uring_buf_ring_mask(m_count),
                        0);
  // Publishes the entry: liburing's advance is a release store of the new tail.
  io_uring_buf_ring_advance(m_ring, 1);
}

}  // namespace ringline::runtime

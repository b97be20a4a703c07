// Provided buffer rings (IORING_REGISTER_PBUF_RING): the kernel picks a buffer when data
// arrives.
#include <sys/mman.h>

#include "runtime/buffer_ring.hpp"
#include "runtime/error.hpp"
#include "runtime/uring/ring.hpp"

namespace ringline::runtime::detail {

result<void> uring_backend::add_buffers(buffer_ring& ring) {
  const unsigned count = ring.count();
  // The ring of buffer descriptors is shared with the kernel; it wants page-aligned memory.
  void* shared = ::mmap(nullptr, count * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (shared == MAP_FAILED) {
    return last_errno();
  }
  auto* descriptors = static_cast<io_uring_buf_ring*>(shared);
  io_uring_buf_ring_init(descriptors);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uintptr_t>(shared);
  registration.ring_entries = count;
  registration.bgid = ring.group();
  if (const int rc = io_uring_register_buf_ring(&m_ring, &registration, 0); rc < 0) {
    ::munmap(shared, count * sizeof(io_uring_buf));
    return errno_code(-rc);
  }
  ring.m_kernel_ring = shared;
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(descriptors, ring.memory_of(static_cast<std::uint16_t>(id)),
                          static_cast<unsigned>(ring.buffer_size()),
                          static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(descriptors, static_cast<int>(count));
  return {};
}

void uring_backend::remove_buffers(buffer_ring& ring) noexcept {
  (void)io_uring_unregister_buf_ring(&m_ring, ring.group());
  ::munmap(ring.m_kernel_ring, ring.count() * sizeof(io_uring_buf));
  ring.m_kernel_ring = nullptr;
}

void uring_backend::give_back(buffer_ring& ring, std::uint16_t id) noexcept {
  auto* descriptors = static_cast<io_uring_buf_ring*>(ring.m_kernel_ring);
  io_uring_buf_ring_add(descriptors, ring.memory_of(id), static_cast<unsigned>(ring.buffer_size()),
                        id, io_uring_buf_ring_mask(ring.count()), 0);
  // Publishes the entry: liburing's advance is a release store of the new tail.
  io_uring_buf_ring_advance(descriptors, 1);
}

}  // namespace ringline::runtime::detail

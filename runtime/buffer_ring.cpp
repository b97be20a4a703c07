#include "runtime/buffer_ring.hpp"

#include <cassert>

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
  // Not zeroed: pages become resident only once something is first received into them.
  ring->m_memory = std::make_unique_for_overwrite<char[]>(count * buffer_size);
  if (auto added = loop.backend().add_buffers(*ring); !added) {
    return added.error();
  }
  ring->m_registered = true;
  return ring;
}

buffer_ring::buffer_ring(event_loop& loop, std::uint16_t group, unsigned count,
                         std::size_t buffer_size)
    : m_loop(loop), m_group(group), m_count(count), m_buffer_size(buffer_size) {}

buffer_ring::~buffer_ring() {
  assert(m_lent == 0 && "a received_buffer outlives its ring");
  if (m_registered) {
    m_loop.backend().remove_buffers(*this);
  }
}

char* buffer_ring::lend(std::uint16_t id) noexcept {
  assert(id < m_count);
  ++m_lent;
  return memory_of(id);
}

void buffer_ring::give_back(std::uint16_t id) noexcept {
  assert(m_lent > 0);
  --m_lent;
  m_loop.backend().give_back(*this, id);
}

}  // namespace ringline::runtime

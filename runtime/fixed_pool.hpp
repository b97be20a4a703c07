#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace ringline::runtime {

/// Memory for many objects of one size, carved from large blocks and recycled through a free
/// list: what a server allocates once per connection and keeps for the connection's life.
///
/// Scattered among short-lived allocations (coroutine frames, line buffers), such objects
/// pin the pages those leave free: a page holding one live 250-byte object cannot go back to
/// the kernel. Kept together, they fill their own pages, and everything else can be
/// returned (runtime/memory_trim.hpp). Blocks are kept until the pool dies, so the pool
/// holds its peak (bounded by the connection limit). One pool per thread; not synchronised.
template <std::size_t Size, std::size_t BlockBytes = 4096>
class fixed_pool {
 public:
  static constexpr std::size_t k_slot = (Size + alignof(std::max_align_t) - 1) /
                                        alignof(std::max_align_t) * alignof(std::max_align_t);
  /// Slots per block: a page's worth by default, so the pool grows about as fast as it is
  /// used.
  static constexpr std::size_t k_per_block = BlockBytes / k_slot > 0 ? BlockBytes / k_slot : 1;

  fixed_pool() = default;
  fixed_pool(const fixed_pool&) = delete;
  fixed_pool& operator=(const fixed_pool&) = delete;

  /// Returns room for one object; throws std::bad_alloc when a new block cannot be had.
  void* allocate() {
    if (m_free == nullptr) {
      grow();
    }
    slot* taken = m_free;
    m_free = taken->next;
    return taken;
  }

  /// Takes back room returned by allocate() of this pool.
  void deallocate(void* pointer) noexcept {
    auto* freed = static_cast<slot*>(pointer);
    freed->next = m_free;
    m_free = freed;
  }

 private:
  struct slot {
    slot* next;
  };
  static_assert(k_slot >= sizeof(slot));

  void grow() {
    m_blocks.reserve(m_blocks.size() + 1);  // so that push_back below cannot throw
    auto block = std::make_unique<std::byte[]>(k_slot * k_per_block);
    for (std::size_t i = k_per_block; i-- > 0;) {
      m_free = ::new (block.get() + i * k_slot) slot{m_free};
    }
    m_blocks.push_back(std::move(block));
  }

  slot* m_free = nullptr;
  std::vector<std::unique_ptr<std::byte[]>> m_blocks;
};

}  // namespace ringline::runtime

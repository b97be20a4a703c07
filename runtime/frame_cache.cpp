#include "runtime/frame_cache.hpp"

#include <array>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RINGLINE_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RINGLINE_FRAME_CACHE 0
#endif
#endif
#ifndef RINGLINE_FRAME_CACHE
#define RINGLINE_FRAME_CACHE 1
#endif

namespace ringline::runtime::detail {
namespace {

constexpr std::size_t k_granule = 64;
constexpr std::size_t k_largest = 4096;
constexpr std::size_t k_sizes = k_largest / k_granule;
// Enough to cover the frames one loop turn frees and allocates again; a few hundred KiB at
// the very most per thread, and in practice the handful of sizes a server uses.
constexpr std::uint8_t k_kept_per_size = 16;

struct free_frame_link {
  free_frame_link* next;
};

// Trivially destructible and constant-initialised, so that reaching it costs no guard and
// it stays usable while other thread-local objects are destroyed; the drainer below gives
// its frames back when the thread ends.
struct frame_lists {
  std::array<free_frame_link*, k_sizes> heads;
  std::array<std::uint8_t, k_sizes> counts;
  bool drainer_armed;
  bool closed;
};
constinit thread_local frame_lists t_lists{};

void drain(frame_lists& lists) noexcept {
  for (std::size_t size = 0; size < k_sizes; ++size) {
    while (auto* frame = lists.heads[size]) {
      lists.heads[size] = frame->next;
      ::operator delete(frame);
    }
    lists.counts[size] = 0;
  }
}

struct drainer {
  drainer() = default;
  drainer(const drainer&) = delete;
  drainer& operator=(const drainer&) = delete;
  ~drainer() {
    drain(t_lists);
    t_lists.closed = true;  // frames freed from now on go straight to the heap
  }
};

// The size class of a frame of `bytes`, which all its frames are rounded up to.
constexpr std::size_t size_index(std::size_t bytes) noexcept {
  return (bytes + k_granule - 1) / k_granule - 1;
}

}  // namespace

void* allocate_frame(std::size_t bytes) {
  if (RINGLINE_FRAME_CACHE == 0 || bytes == 0 || bytes > k_largest) {
    return ::operator new(bytes);
  }
  const auto index = size_index(bytes);
  auto& lists = t_lists;
  if (auto* frame = lists.heads[index]) {
    lists.heads[index] = frame->next;
    --lists.counts[index];
    return frame;
  }
  return ::operator new((index + 1) * k_granule);
}

void free_frame(void* frame, std::size_t bytes) noexcept {
  if (RINGLINE_FRAME_CACHE == 0 || bytes == 0 || bytes > k_largest) {
    ::operator delete(frame);
    return;
  }
  const auto index = size_index(bytes);
  auto& lists = t_lists;
  if (lists.closed || lists.counts[index] >= k_kept_per_size) {
    ::operator delete(frame);
    return;
  }
  if (!lists.drainer_armed) {
    lists.drainer_armed = true;
    thread_local drainer on_exit;
    (void)on_exit;
  }
  lists.heads[index] = ::new (frame) free_frame_link{lists.heads[index]};
  ++lists.counts[index];
}

bool frame_cache_enabled() noexcept {
  return RINGLINE_FRAME_CACHE != 0;
}

std::size_t kept_frames() noexcept {
  std::size_t kept = 0;
  for (const auto count : t_lists.counts) {
    kept += count;
  }
  return kept;
}

std::size_t kept_frame_bytes() noexcept {
  std::size_t bytes = 0;
  for (std::size_t size = 0; size < k_sizes; ++size) {
    bytes += t_lists.counts[size] * (size + 1) * k_granule;
  }
  return bytes;
}

}  // namespace ringline::runtime::detail

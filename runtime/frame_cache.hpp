#pragma once

#include <cstddef>

namespace ringline::runtime::detail {

/// Memory for coroutine frames, recycled on the thread that frees it.
///
/// A parked session (runtime/parked_receive.hpp) starts a coroutine for each batch of lines
/// it receives, so under load every thread allocates and frees frames of the same few sizes
/// thousands of times a second. The session's frame is larger than glibc's per-thread cache
/// takes (1 KiB), so each of those pairs would go through the arena's bins. This keeps a few
/// freed frames per size on each thread and hands them out again. Bounded: at most
/// k_kept_per_size frames of each size up to k_largest bytes; anything else goes to the
/// heap. Off in sanitizer builds, which must see each frame's life and death.
void* allocate_frame(std::size_t bytes);

/// Takes back a frame of `bytes` from allocate_frame(), on any thread.
void free_frame(void* frame, std::size_t bytes) noexcept;

/// Returns true when frames are recycled (false in sanitizer builds).
[[nodiscard]] bool frame_cache_enabled() noexcept;

/// Returns the frames the calling thread keeps, for tests.
[[nodiscard]] std::size_t kept_frames() noexcept;

/// Returns the bytes of the frames the calling thread keeps, for tests that count a
/// session's own memory.
[[nodiscard]] std::size_t kept_frame_bytes() noexcept;

}  // namespace ringline::runtime::detail

#include "runtime/frame_cache.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstring>
#include <thread>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/task.hpp"

namespace ringline::runtime::detail {
namespace {

// Sanitizer builds keep no frame, so that every frame's life is seen; each test checks that
// there instead.
std::size_t kept_if_enabled(std::size_t frames) {
  return frame_cache_enabled() ? frames : 0;
}

TEST(frame_cache_test, a_freed_frame_is_handed_out_again_for_the_same_size_class) {
  const auto kept_before = kept_frames();
  void* first = allocate_frame(1000);
  free_frame(first, 1000);
  EXPECT_EQ(kept_frames(), kept_before + kept_if_enabled(1));
  // 1000 and 1020 bytes round up to the same 1024-byte class.
  void* again = allocate_frame(1020);
  if (frame_cache_enabled()) {
    EXPECT_EQ(again, first);
  }
  EXPECT_EQ(kept_frames(), kept_before);
  free_frame(again, 1020);
}

TEST(frame_cache_test, a_recycled_frame_holds_the_largest_frame_of_its_size_class) {
  // 1,985 and 2,048 bytes share the 2,048-byte class, which no other test here uses: the frame
  // kept for the smaller must take the larger whole, so each frame is allocated at its class
  // size. Were it allocated at its own size, the fill below would run past its allocation
  // into its neighbour's (and malloc_usable_size says so first).
  constexpr std::size_t k_smallest = 1985;
  constexpr std::size_t k_class = 2048;
  void* first = allocate_frame(k_smallest);
  EXPECT_GE(::malloc_usable_size(first), frame_cache_enabled() ? k_class : k_smallest);
  std::memset(first, 0x11, k_smallest);
  free_frame(first, k_smallest);
  void* again = allocate_frame(k_class);
  if (frame_cache_enabled()) {
    EXPECT_EQ(again, first);
  }
  ASSERT_GE(::malloc_usable_size(again), k_class) << "a recycled frame smaller than its class";
  std::memset(again, 0x22, k_class);
  free_frame(again, k_class);
}

TEST(frame_cache_test, keeps_a_bounded_number_of_frames_per_size) {
  // A size no other test here uses, so that its class starts empty.
  constexpr std::size_t k_size = 3000;  // its class: 3,008 bytes
  const auto kept_before = kept_frames();
  const auto bytes_before = kept_frame_bytes();
  std::vector<void*> frames;
  for (int i = 0; i < 100; ++i) {
    frames.push_back(allocate_frame(k_size));
  }
  for (auto* frame : frames) {
    free_frame(frame, k_size);
  }
  EXPECT_EQ(kept_frames(), kept_before + kept_if_enabled(16));
  EXPECT_EQ(kept_frame_bytes(), bytes_before + kept_if_enabled(16) * 3008);
}

TEST(frame_cache_test, large_frames_are_not_kept) {
  const auto kept_before = kept_frames();
  constexpr std::size_t k_large = std::size_t{64} << 10U;
  free_frame(allocate_frame(k_large), k_large);
  EXPECT_EQ(kept_frames(), kept_before);
}

TEST(frame_cache_test, a_frame_freed_on_another_thread_is_kept_there) {
  void* frame = allocate_frame(256);
  std::size_t kept_there = 0;
  std::thread other([&] {
    free_frame(frame, 256);
    kept_there = kept_frames();
  });  // and given back to the heap when that thread ends
  other.join();
  EXPECT_EQ(kept_there, kept_if_enabled(1));
}

task<int> answer() {
  co_return 42;
}

task<int> twice() {
  const int first = co_await answer();
  co_return first + co_await answer();
}

TEST(frame_cache_test, tasks_reuse_the_frames_of_tasks_that_ended) {
  event_loop loop;
  const auto kept_before = kept_frames();
  EXPECT_EQ(loop.run(twice()), 84);
  const auto kept = kept_frames();
  if (frame_cache_enabled()) {
    EXPECT_GT(kept, kept_before);
  } else {
    EXPECT_EQ(kept, 0U);
  }
  EXPECT_EQ(loop.run(twice()), 84);
  EXPECT_EQ(kept_frames(), kept) << "the second run found every frame it needed kept";
}

}  // namespace
}  // namespace ringline::runtime::detail

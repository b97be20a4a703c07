#include "runtime/frame_cache.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/task.hpp"

namespace ringline::runtime::detail {
namespace {

class frame_cache_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!frame_cache_enabled()) {
      GTEST_SKIP() << "sanitizer build: every frame goes to the heap";
    }
  }
};

TEST_F(frame_cache_test, a_freed_frame_is_handed_out_again_for_the_same_size_class) {
  void* first = allocate_frame(1000);
  free_frame(first, 1000);
  // 1000 and 1020 bytes round up to the same 1024-byte class.
  void* again = allocate_frame(1020);
  EXPECT_EQ(again, first);
  void* other = allocate_frame(2000);
  EXPECT_NE(other, first);
  free_frame(other, 2000);
  free_frame(again, 1020);
}

TEST_F(frame_cache_test, keeps_a_bounded_number_of_frames_per_size) {
  const auto kept_before = kept_frames();
  std::vector<void*> frames;
  for (int i = 0; i < 100; ++i) {
    frames.push_back(allocate_frame(512));
  }
  for (auto* frame : frames) {
    free_frame(frame, 512);
  }
  EXPECT_GT(kept_frames(), kept_before);
  EXPECT_LE(kept_frames(), kept_before + 16);
}

TEST_F(frame_cache_test, large_frames_are_not_kept) {
  const auto kept_before = kept_frames();
  constexpr std::size_t k_large = std::size_t{64} << 10U;
  free_frame(allocate_frame(k_large), k_large);
  EXPECT_EQ(kept_frames(), kept_before);
}

TEST_F(frame_cache_test, a_frame_freed_on_another_thread_is_kept_there) {
  void* frame = allocate_frame(256);
  std::size_t kept_there = 0;
  std::thread other([&] {
    free_frame(frame, 256);
    kept_there = kept_frames();
  });  // and given back to the heap when that thread ends
  other.join();
  EXPECT_EQ(kept_there, 1U);
}

task<int> answer() {
  co_return 42;
}

task<int> twice() {
  const int first = co_await answer();
  co_return first + co_await answer();
}

TEST_F(frame_cache_test, tasks_reuse_the_frames_of_tasks_that_ended) {
  event_loop loop;
  EXPECT_EQ(loop.run(twice()), 84);
  const auto kept = kept_frames();
  EXPECT_GT(kept, 0U);
  EXPECT_EQ(loop.run(twice()), 84);
  EXPECT_EQ(kept_frames(), kept) << "the second run found every frame it needed kept";
}

}  // namespace
}  // namespace ringline::runtime::detail

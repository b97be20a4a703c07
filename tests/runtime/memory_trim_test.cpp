#include "runtime/memory_trim.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <memory>
#include <vector>

namespace ringline::runtime {
namespace {

std::size_t free_heap_bytes() {
  return ::mallinfo2().fordblks;
}

TEST(memory_trim_test, little_free_memory_is_left_alone) {
  EXPECT_FALSE(trim_free_memory(std::size_t{1} << 40));
}

TEST(memory_trim_test, memory_freed_in_the_middle_of_the_heap_goes_back) {
  // 8 MiB in 2 KiB pieces (below the mmap threshold, so from the heap), then one piece kept
  // above them: freed, they leave a hole that trimming the top of the heap cannot return.
  std::vector<std::unique_ptr<char[]>> pieces;
  for (int i = 0; i < 4096; ++i) {
    pieces.push_back(std::make_unique<char[]>(2048));
    pieces.back()[0] = 1;
  }
  auto keeper = std::make_unique<char[]>(2048);
  keeper[0] = 1;
  pieces.clear();
  ASSERT_GT(free_heap_bytes(), std::size_t{4} << 20);
  EXPECT_TRUE(trim_free_memory(std::size_t{1} << 20));
}

}  // namespace
}  // namespace ringline::runtime

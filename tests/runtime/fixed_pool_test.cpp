#include "runtime/fixed_pool.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

namespace ringline::runtime {
namespace {

TEST(fixed_pool_test, slots_are_distinct_aligned_and_reused_after_release) {
  fixed_pool<40, std::size_t{8} * 48> pool;
  std::vector<void*> taken;
  for (int i = 0; i < 20; ++i) {  // more than one block
    taken.push_back(pool.allocate());
  }
  const std::set<void*> distinct(taken.begin(), taken.end());
  EXPECT_EQ(distinct.size(), taken.size());
  for (void* each : taken) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(each) % alignof(std::max_align_t), 0U);
  }
  void* last = taken.back();
  pool.deallocate(last);
  EXPECT_EQ(pool.allocate(), last);
}

TEST(fixed_pool_test, a_slot_holds_an_object_of_the_size_without_overlapping_the_next) {
  constexpr std::size_t k_size = 50;
  fixed_pool<k_size, std::size_t{4} * 64> pool;
  auto* first = static_cast<unsigned char*>(pool.allocate());
  auto* second = static_cast<unsigned char*>(pool.allocate());
  std::fill(first, first + k_size, 0xAA);
  std::fill(second, second + k_size, 0x55);
  EXPECT_EQ(first[k_size - 1], 0xAA);
  EXPECT_EQ(second[0], 0x55);
}

}  // namespace
}  // namespace ringline::runtime

#include "runtime/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;
using clock = timer_wheel::clock;

struct counted_node : detail::timer_node {
  int fired = 0;
  counted_node() {
    m_on_expiry = [](detail::timer_node& self) noexcept {
      ++static_cast<counted_node&>(self).fired;
    };
  }
};

// A fixed origin on a tick boundary, so the arithmetic below is exact.
const clock::time_point k_origin{
    std::chrono::duration_cast<clock::duration>(1000 * timer_wheel::k_tick)};

TEST(timer_wheel_test, a_deadline_never_fires_early_and_at_most_a_tick_late) {
  timer_wheel wheel(k_origin);
  counted_node node;
  wheel.arm(node, k_origin + 30ms, 250ms);  // due at origin + 280 ms
  EXPECT_EQ(wheel.expire(k_origin + 279ms), 0U);
  EXPECT_EQ(node.fired, 0);
  EXPECT_EQ(wheel.expire(k_origin + 300ms), 1U);
  EXPECT_EQ(node.fired, 1);
  EXPECT_FALSE(node.armed());
  EXPECT_EQ(wheel.armed(), 0U);
}

TEST(timer_wheel_test, a_disarmed_node_never_fires) {
  timer_wheel wheel(k_origin);
  counted_node node;
  wheel.arm(node, k_origin, 100ms);
  wheel.disarm(node);
  wheel.disarm(node);  // twice is harmless
  EXPECT_EQ(wheel.expire(k_origin + 10s), 0U);
  EXPECT_EQ(node.fired, 0);
}

TEST(timer_wheel_test, deadlines_beyond_one_turn_wait_for_their_round) {
  timer_wheel wheel(k_origin);
  counted_node far;
  counted_node near;
  const auto span = timer_wheel::k_tick * timer_wheel::k_slots;
  wheel.arm(far, k_origin, span + 200ms);  // the same slot as `near`, one round later
  wheel.arm(near, k_origin, 200ms);
  for (auto now = k_origin; now <= k_origin + span; now += timer_wheel::k_tick) {
    wheel.expire(now);
  }
  EXPECT_EQ(near.fired, 1);
  EXPECT_EQ(far.fired, 0);
  wheel.expire(k_origin + span + 300ms);
  EXPECT_EQ(far.fired, 1);
}

TEST(timer_wheel_test, a_long_pause_fires_everything_due_in_one_pass) {
  timer_wheel wheel(k_origin);
  std::vector<counted_node> nodes(50);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    wheel.arm(nodes[i], k_origin, std::chrono::seconds(i * 7));
  }
  EXPECT_EQ(wheel.expire(k_origin + std::chrono::hours(1)), nodes.size());
  for (const auto& node : nodes) {
    EXPECT_EQ(node.fired, 1);
  }
}

TEST(timer_wheel_test, the_loop_sleeps_until_the_first_occupied_slot) {
  timer_wheel wheel(k_origin);
  EXPECT_FALSE(wheel.time_to_next(k_origin).has_value());
  counted_node node;
  wheel.arm(node, k_origin, 450ms);  // due at origin + 500 ms
  const auto sleep = wheel.time_to_next(k_origin + 20ms);
  ASSERT_TRUE(sleep.has_value());
  EXPECT_EQ(*sleep, 480ms);
  EXPECT_EQ(*wheel.time_to_next(k_origin + 2s), clock::duration::zero());
}

TEST(timer_wheel_test, the_sleep_skips_slots_emptied_by_disarming) {
  timer_wheel wheel(k_origin);
  counted_node soon;
  counted_node later;
  counted_node also_later;
  wheel.arm(soon, k_origin, 150ms);   // due at origin + 200 ms
  wheel.arm(later, k_origin, 950ms);  // both due at origin + 1 s
  wheel.arm(also_later, k_origin, 920ms);
  EXPECT_EQ(*wheel.time_to_next(k_origin), 200ms);
  wheel.disarm(soon);
  EXPECT_EQ(*wheel.time_to_next(k_origin), 1s);
  wheel.disarm(later);  // its slot still holds the other one
  EXPECT_EQ(*wheel.time_to_next(k_origin), 1s);
  wheel.disarm(also_later);
  EXPECT_FALSE(wheel.time_to_next(k_origin).has_value());
}

TEST(timer_wheel_test, the_sleep_finds_a_slot_behind_the_current_one_in_the_array) {
  // Past most of the wheel's first turn, the next deadline lies in a slot of a lower index:
  // the search wraps around the array.
  timer_wheel wheel(k_origin);
  const auto late_in_turn = k_origin + timer_wheel::k_tick * (timer_wheel::k_slots - 10);
  wheel.expire(late_in_turn);
  counted_node node;
  wheel.arm(node, late_in_turn, timer_wheel::k_tick * 40);  // slot 7, the search starts at 991
  const auto sleep = wheel.time_to_next(late_in_turn);
  ASSERT_TRUE(sleep.has_value());
  EXPECT_EQ(*sleep, timer_wheel::k_tick * 41);
  wheel.expire(late_in_turn + *sleep);
  EXPECT_EQ(node.fired, 1);
}

TEST(timer_wheel_test, the_sleep_finds_a_deadline_almost_a_whole_turn_ahead) {
  // Its slot is in the same word of the bitmap as the current one, just before it: found only
  // once the search has gone round the whole wheel.
  timer_wheel wheel(k_origin);
  const auto late_in_turn = k_origin + timer_wheel::k_tick * (timer_wheel::k_slots - 10);
  wheel.expire(late_in_turn);
  counted_node node;
  wheel.arm(node, late_in_turn, timer_wheel::k_tick * 1000);
  EXPECT_EQ(*wheel.time_to_next(late_in_turn), timer_wheel::k_tick * 1001);
}

}  // namespace
}  // namespace ringline::runtime

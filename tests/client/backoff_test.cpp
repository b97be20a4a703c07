#include "client/backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace ringline::client {
namespace {

using namespace std::chrono_literals;

TEST(backoff_test, doubles_from_100_ms_up_to_5_s_with_each_delay_in_half_to_whole_base) {
  backoff delays(42);
  auto base = 100ms;
  for (int attempt = 0; attempt < 12; ++attempt) {
    EXPECT_EQ(delays.base(), base) << "attempt " << attempt;
    const auto delay = delays.next();
    EXPECT_GE(delay, base / 2) << "attempt " << attempt;
    EXPECT_LE(delay, base) << "attempt " << attempt;
    base = std::min<std::chrono::milliseconds>(base * 2, 5s);
  }
  EXPECT_EQ(delays.base(), 5s);
}

TEST(backoff_test, reset_starts_again_from_the_first_delay) {
  backoff delays(7);
  for (int attempt = 0; attempt < 5; ++attempt) {
    (void)delays.next();
  }
  delays.reset();
  EXPECT_EQ(delays.base(), 100ms);
  EXPECT_LE(delays.next(), 100ms);
}

TEST(backoff_test, jitter_differs_between_seeds) {
  // Two clients that lost the same server must not come back in lockstep.
  backoff one(1);
  backoff two(2);
  int differing = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    differing += one.next() != two.next() ? 1 : 0;
  }
  EXPECT_GT(differing, 0);
}

}  // namespace
}  // namespace ringline::client

#include "client/unacked_window.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringline::client {
namespace {

unacked_window window_of(std::size_t capacity, int lines) {
  unacked_window window(capacity);
  for (int i = 1; i <= lines; ++i) {
    window.push(std::to_string(i) + "\n");
  }
  return window;
}

TEST(unacked_window_test, is_full_at_its_capacity_and_an_ack_makes_room) {
  auto window = window_of(3, 3);
  EXPECT_TRUE(window.full());
  std::string out;
  EXPECT_EQ(window.take_unsent(out, 1024), 3U);
  EXPECT_TRUE(window.acknowledge());
  EXPECT_FALSE(window.full());
  EXPECT_EQ(window.size(), 2U);
}

TEST(unacked_window_test, a_capacity_of_zero_holds_one_line) {
  unacked_window window(0);
  EXPECT_EQ(window.capacity(), 1U);
  window.push("x\n");
  EXPECT_TRUE(window.full());
}

TEST(unacked_window_test, hands_out_lines_in_order_up_to_the_byte_limit) {
  auto window = window_of(10, 5);
  std::string out;
  EXPECT_EQ(window.take_unsent(out, 4), 2U);  // "1\n2\n" reaches the limit
  EXPECT_EQ(out, "1\n2\n");
  EXPECT_EQ(window.take_unsent(out, 1), 1U);  // at least one line, whatever the limit
  EXPECT_EQ(out, "1\n2\n3\n");
  EXPECT_EQ(window.unsent(), 2U);
}

TEST(unacked_window_test, an_ack_for_no_line_handed_out_is_refused) {
  auto window = window_of(4, 2);
  EXPECT_FALSE(window.acknowledge());  // nothing sent yet
  std::string out;
  (void)window.take_unsent(out, 1024);
  EXPECT_TRUE(window.acknowledge());
  EXPECT_TRUE(window.acknowledge());
  EXPECT_FALSE(window.acknowledge());
  EXPECT_EQ(window.size(), 0U);
}

TEST(unacked_window_test, a_restart_resends_only_the_unacknowledged_lines_in_order) {
  auto window = window_of(10, 5);
  std::string first;
  EXPECT_EQ(window.take_unsent(first, 1024), 5U);
  EXPECT_TRUE(window.acknowledge());  // "1" acknowledged: never sent again
  EXPECT_TRUE(window.acknowledge());  // "2" likewise
  EXPECT_EQ(window.sent_unacknowledged(), 3U);
  window.restart();
  std::string second;
  EXPECT_EQ(window.take_unsent(second, 1024), 3U);
  EXPECT_EQ(second, "3\n4\n5\n");
  EXPECT_EQ(window.resent(), 3U);
}

TEST(unacked_window_test, counts_a_line_resent_twice_once_and_new_lines_not_at_all) {
  auto window = window_of(10, 3);
  std::string out;
  (void)window.take_unsent(out, 2);  // "1" handed to the first connection
  window.restart();
  (void)window.take_unsent(out, 1024);  // "1" again (a resend), "2" and "3" for the first time
  EXPECT_EQ(window.resent(), 1U);
  window.restart();
  (void)window.take_unsent(out, 1024);  // all three again: "1" was counted already
  EXPECT_EQ(window.resent(), 3U);
  EXPECT_TRUE(window.acknowledge());
  window.push("4\n");
  window.restart();
  out.clear();
  EXPECT_EQ(window.take_unsent(out, 1024), 3U);
  EXPECT_EQ(out, "2\n3\n4\n");
  EXPECT_EQ(window.resent(), 3U);  // "2" and "3" were counted, "4" is new
}

TEST(unacked_window_test, acks_during_a_resend_leave_every_later_resend_counted) {
  auto window = window_of(10, 5);
  std::string out;
  EXPECT_EQ(window.take_unsent(out, 1024), 5U);  // the first connection: all five, then lost
  window.restart();
  out.clear();
  EXPECT_EQ(window.take_unsent(out, 4), 2U);  // "1" and "2" resent...
  EXPECT_EQ(window.resent(), 2U);
  EXPECT_TRUE(window.acknowledge());  // ...and acknowledged on this connection
  EXPECT_TRUE(window.acknowledge());
  out.clear();
  EXPECT_EQ(window.take_unsent(out, 1024), 3U);  // "3", "4", "5": sent before, so resends too
  EXPECT_EQ(out, "3\n4\n5\n");
  EXPECT_EQ(window.resent(), 5U);
  EXPECT_EQ(window.sent_unacknowledged(), 3U);
}

}  // namespace
}  // namespace ringline::client

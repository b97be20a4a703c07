#include "client/progress_display.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringline::client {
namespace {

using namespace std::chrono_literals;

delivery_result halfway() {
  delivery_result progress;
  progress.lines = 600;
  progress.sent = 550;
  progress.acked = 500;
  progress.resent = 12;
  progress.reconnects = 2;
  progress.elapsed = 2s;
  return progress;
}

TEST(progress_display_test, summary_names_every_counter) {
  EXPECT_EQ(format_summary(halfway(), std::nullopt),
            "lines=600 sent=550 acked=500 resent=12 reconnects=2 elapsed=2.000s rate=250/s");
}

TEST(progress_display_test, summary_counts_every_line_of_a_known_total_even_if_unread) {
  // A file of 20,000 lines whose delivery failed before its first read: lines says 20000,
  // as the failure's "20000 of 20000 lines unacknowledged" does.
  delivery_result nothing;
  EXPECT_EQ(format_summary(nothing, 20'000),
            "lines=20000 sent=0 acked=0 resent=0 reconnects=0 elapsed=0.000s rate=0/s");
}

TEST(progress_display_test, bar_shows_acked_of_total_rate_and_eta) {
  const auto bar = format_progress(halfway(), 1000);
  EXPECT_NE(bar.find("500/1000 50%"), std::string::npos) << bar;
  EXPECT_NE(bar.find("250 lines/s"), std::string::npos) << bar;
  EXPECT_NE(bar.find("ETA 2 s"), std::string::npos) << bar;  // 500 left at 250/s
  EXPECT_NE(bar.find("[###############...............]"), std::string::npos) << bar;
}

TEST(progress_display_test, without_a_total_shows_acked_and_rate_only) {
  EXPECT_EQ(format_progress(halfway(), std::nullopt), "500 acked, 250 lines/s");
}

TEST(progress_display_test, before_any_ack_the_eta_is_unknown) {
  delivery_result start;
  EXPECT_NE(format_progress(start, 10).find("ETA ?"), std::string::npos);
}

}  // namespace
}  // namespace ringline::client

#include "runtime/duration.hpp"

#include <gtest/gtest.h>

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;

TEST(duration_test, reads_every_unit_and_a_bare_number_as_seconds) {
  const std::pair<const char*, std::chrono::milliseconds> cases[] = {
      {"300", 300s}, {"300s", 300s}, {"5m", 5min}, {"1h", 1h},  {"250ms", 250ms},
      {"0", 0ms},    {"0ms", 0ms},   {"2 s", 2s},  {"007", 7s}, {"86400s", 24h},
  };
  for (const auto& [text, expected] : cases) {
    auto parsed = parse_duration(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(duration_test, rejects_signs_fractions_unknown_units_and_empty_text) {
  for (const char* text :
       {"", "5x", "-1", "+1", "1.5s", "s", " 5", "5 ", "5  s", "5sec", "5S", "1d", "ms"}) {
    auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error(), std::errc::invalid_argument) << text;
  }
}

TEST(duration_test, reports_values_that_do_not_fit_as_out_of_range) {
  for (const char* text : {"99999999999999999999", "9223372036854775807h"}) {
    auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error(), std::errc::result_out_of_range) << text;
  }
}

TEST(duration_test, formats_whole_seconds_and_milliseconds_in_a_form_it_reads_back) {
  EXPECT_EQ(format_duration(2s), "2 s");
  EXPECT_EQ(format_duration(5min), "300 s");
  EXPECT_EQ(format_duration(250ms), "250 ms");
  EXPECT_EQ(format_duration(0ms), "0 s");
  EXPECT_EQ(format_duration(5min, ""), "300s");
  EXPECT_EQ(format_duration(250ms, ""), "250ms");
  for (auto each : {2000ms, 250ms, 0ms, 1500ms}) {
    EXPECT_EQ(parse_duration(format_duration(each)).value_or(-1ms), each);
  }
}

TEST(duration_test, explains_what_is_wrong_with_a_command_line_value) {
  EXPECT_EQ(check_duration("5m", 1h), "");
  EXPECT_EQ(check_duration("1h", 1h), "");
  EXPECT_EQ(check_duration("5x", 1h), "'5x' is not a duration; use 300, 300s, 5m, 1h or 250ms");
  EXPECT_EQ(check_duration("2h", 1h), "'2h' is out of range 0 s..3600 s");
  EXPECT_EQ(check_duration("99999999999999999999", 1h),
            "'99999999999999999999' is out of range 0 s..3600 s");
}

}  // namespace
}  // namespace ringline::runtime

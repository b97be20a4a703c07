#include "protocol/messages.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

#include "protocol/errc.hpp"

namespace ringline::protocol {
namespace {

std::string_view as_view(std::span<const char> bytes) {
  return {bytes.data(), bytes.size()};
}

TEST(messages_test, defaults_reproduce_the_original_programs) {
  EXPECT_EQ(make_line(default_greeting), "connect\n");
  EXPECT_EQ(make_line(default_ack), "Thank you client , you data is Received success \n");
  EXPECT_EQ(make_line(server_full_text), "not connect\n");
  EXPECT_EQ(make_line(default_message), "This data will Send to server!\n");
}

TEST(messages_test, make_line_appends_newline) {
  EXPECT_EQ(make_line(""), "\n");
  EXPECT_EQ(make_line(std::string_view("a\0b", 3)), std::string("a\0b\n", 4));
}

TEST(messages_test, error_line_carries_the_reason) {
  EXPECT_EQ(error_line(errc::line_too_long), "error: line too long\n");
  EXPECT_EQ(error_line(errc::idle_timeout), "error: idle timeout\n");
}

TEST(messages_test, validate_message_text_rejects_line_breaks) {
  EXPECT_TRUE(validate_message_text("connect").has_value());
  EXPECT_TRUE(validate_message_text("").has_value());
  EXPECT_TRUE(validate_message_text(default_ack).has_value());
  EXPECT_TRUE(validate_message_text(std::string_view("a\0b", 3)).has_value());
  EXPECT_EQ(validate_message_text("a\nb").error(), std::errc::invalid_argument);
  EXPECT_EQ(validate_message_text("ab\r").error(), std::errc::invalid_argument);
  EXPECT_EQ(validate_message_text("\r\n").error(), std::errc::invalid_argument);
}

TEST(messages_test, ack_batch_slices_whole_acks) {
  const ack_batch batch("ok", 4);
  EXPECT_EQ(batch.line_size(), 3U);
  EXPECT_EQ(batch.capacity(), 4U);
  EXPECT_EQ(as_view(batch.slice(0)), "");
  EXPECT_EQ(as_view(batch.slice(1)), "ok\n");
  EXPECT_EQ(as_view(batch.slice(3)), "ok\nok\nok\n");
  EXPECT_EQ(as_view(batch.slice(4)), "ok\nok\nok\nok\n");
}

TEST(messages_test, ack_batch_slice_is_capped_at_capacity) {
  const ack_batch batch("ok", 4);
  EXPECT_EQ(batch.slice(1000).size(), 4 * batch.line_size());
  EXPECT_EQ(batch.slice(1000).data(), batch.slice(1).data());
}

TEST(messages_test, ack_batch_defaults_to_1024_default_acks) {
  const ack_batch batch(default_ack);
  EXPECT_EQ(batch.capacity(), 1024U);
  EXPECT_EQ(batch.line_size(), default_ack.size() + 1);
  const std::string line = make_line(default_ack);
  const std::string_view all = as_view(batch.slice(1024));
  ASSERT_EQ(all.size(), 1024 * line.size());
  for (std::size_t i = 0; i < 1024; ++i) {
    ASSERT_EQ(all.substr(i * line.size(), line.size()), line) << "ack " << i;
  }
}

TEST(messages_test, ack_batch_counts_whole_acks_in_bytes) {
  const ack_batch batch("ok", 8);
  EXPECT_EQ(batch.acks_in(0), 0U);
  EXPECT_EQ(batch.acks_in(2), 0U);
  EXPECT_EQ(batch.acks_in(3), 1U);
  EXPECT_EQ(batch.acks_in(8), 2U);
  EXPECT_EQ(batch.acks_in(9), 3U);
}

TEST(messages_test, ack_batch_holds_at_least_one_ack) {
  const ack_batch batch("ok", 0);
  EXPECT_EQ(batch.capacity(), 1U);
  EXPECT_EQ(as_view(batch.slice(5)), "ok\n");
}

TEST(messages_test, ack_batch_allows_empty_ack_text) {
  const ack_batch batch("", 3);
  EXPECT_EQ(batch.line_size(), 1U);
  EXPECT_EQ(as_view(batch.slice(3)), "\n\n\n");
}

}  // namespace
}  // namespace ringline::protocol

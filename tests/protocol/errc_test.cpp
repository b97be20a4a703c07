#include "protocol/errc.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <system_error>

#include "runtime/result.hpp"

namespace ringline::protocol {
namespace {

TEST(errc_test, is_an_error_code_enum) {
  static_assert(std::is_error_code_enum_v<errc>);
  const std::error_code code = errc::idle_timeout;  // implicit conversion
  EXPECT_EQ(code, errc::idle_timeout);
  EXPECT_EQ(code.value(), 2);
}

TEST(errc_test, has_its_own_category) {
  const std::error_code code = make_error_code(errc::line_too_long);
  EXPECT_EQ(&code.category(), &protocol_category());
  EXPECT_EQ(std::string_view(code.category().name()), "ringline.protocol");
  EXPECT_TRUE(code);
  EXPECT_EQ(code.value(), 1);
  // Same value, different category: not the same error.
  EXPECT_NE(code, std::error_code(1, std::generic_category()));
}

TEST(errc_test, messages_match_the_wire_reasons) {
  EXPECT_EQ(make_error_code(errc::line_too_long).message(), "line too long");
  EXPECT_EQ(make_error_code(errc::idle_timeout).message(), "idle timeout");
  EXPECT_EQ(make_error_code(errc::server_full).message(), "server full");
  EXPECT_EQ(make_error_code(errc::unexpected_reply).message(), "unexpected reply");
  EXPECT_EQ(make_error_code(errc::reply_too_long).message(), "reply too long");
  EXPECT_EQ(make_error_code(errc::server_closed).message(), "server closed the connection");
}

TEST(errc_test, unknown_value_has_a_message) {
  EXPECT_FALSE(std::error_code(99, protocol_category()).message().empty());
}

TEST(errc_test, converts_to_result) {
  const runtime::result<void> failed = errc::server_full;
  EXPECT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), errc::server_full);
  const runtime::result<int> failed_int = errc::reply_too_long;
  EXPECT_EQ(failed_int.error(), errc::reply_too_long);
}

}  // namespace
}  // namespace ringline::protocol

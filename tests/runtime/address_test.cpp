#include "runtime/address.hpp"

#include <gtest/gtest.h>

namespace ringline::runtime {
namespace {

TEST(address_test, parses_and_formats_ipv4) {
  auto parsed = address::parse("127.0.0.1", 10008);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->family(), AF_INET);
  EXPECT_EQ(parsed->port(), 10008);
  EXPECT_EQ(parsed->to_string(), "127.0.0.1:10008");
}

TEST(address_test, parses_and_formats_ipv6_with_or_without_brackets) {
  for (const char* text : {"::1", "[::1]"}) {
    auto parsed = address::parse(text, 80);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->family(), AF_INET6);
    EXPECT_EQ(parsed->host(), "::1");
    EXPECT_EQ(parsed->to_string(), "[::1]:80");
  }
}

TEST(address_test, rejects_names_and_garbage) {
  for (const char* text : {"localhost", "", "1.2.3", "::g", "[::1"}) {
    auto parsed = address::parse(text, 1);
    EXPECT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error(), std::errc::invalid_argument);
  }
}

TEST(address_test, set_port_changes_only_the_port) {
  auto parsed = address::parse("::1", 1);
  ASSERT_TRUE(parsed);
  parsed->set_port(10008);
  EXPECT_EQ(parsed->to_string(), "[::1]:10008");
}

TEST(address_test, check_port_accepts_0_to_65535_and_names_the_range_otherwise) {
  for (const char* text : {"0", "1", "10008", "65535"}) {
    EXPECT_EQ(check_port(text), "") << text;
  }
  EXPECT_EQ(check_port("70000"), "70000 is out of range 0..65535");
  EXPECT_EQ(check_port("-1"), "-1 is out of range 0..65535");
  EXPECT_EQ(check_port("99999999999999999999999"),
            "99999999999999999999999 is out of range 0..65535");
  EXPECT_EQ(check_port("http"), "'http' is not a port number (0..65535)");
  EXPECT_EQ(check_port(""), "'' is not a port number (0..65535)");
  EXPECT_EQ(check_port("80x"), "'80x' is not a port number (0..65535)");
}

}  // namespace
}  // namespace ringline::runtime

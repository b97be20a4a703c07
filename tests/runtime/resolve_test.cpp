#include "runtime/resolve.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace ringline::runtime {
namespace {

TEST(resolve_test, returns_a_literal_as_it_is) {
  for (const char* text : {"127.0.0.1", "::1", "[::1]"}) {
    auto found = resolve(text, 10008);
    ASSERT_TRUE(found) << text << ": " << found.error().message();
    ASSERT_EQ(found->size(), 1U) << text;
    EXPECT_EQ(found->front().port(), 10008) << text;
    EXPECT_EQ(found->front().to_string(), address::parse(text, 10008)->to_string());
  }
}

TEST(resolve_test, resolves_localhost_to_loopback_addresses_with_the_port) {
  // /etc/hosts names localhost on every system this runs on; no DNS is involved.
  auto found = resolve("localhost", 4242);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_FALSE(found->empty());
  for (const auto& each : *found) {
    EXPECT_EQ(each.port(), 4242) << each.to_string();
    EXPECT_TRUE(each.host() == "::1" || each.host().starts_with("127.")) << each.to_string();
  }
  // No address twice, even where /etc/hosts lists one twice.
  for (std::size_t i = 0; i < found->size(); ++i) {
    for (std::size_t j = i + 1; j < found->size(); ++j) {
      EXPECT_NE((*found)[i].to_string(), (*found)[j].to_string());
    }
  }
}

TEST(resolve_test, reports_an_unknown_name_and_an_empty_host) {
  // .invalid is reserved (RFC 6761): it never resolves.
  auto unknown = resolve("no-such-host.invalid", 1);
  ASSERT_FALSE(unknown);
  EXPECT_FALSE(unknown.error().message().empty());
  auto empty = resolve("", 1);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), std::errc::invalid_argument);
}

}  // namespace
}  // namespace ringline::runtime

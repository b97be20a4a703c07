#include "runtime/result.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringline::runtime {
namespace {

TEST(result_test, holds_value) {
  result<std::string> ok(std::string("line"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "line");
  EXPECT_EQ(ok->size(), 4U);
  EXPECT_FALSE(ok.error());
}

TEST(result_test, holds_error) {
  result<int> failed(std::errc::connection_reset);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), std::errc::connection_reset);
  EXPECT_EQ(failed.value_or(-1), -1);
}

TEST(result_test, void_result_is_success_by_default) {
  result<void> ok;
  EXPECT_TRUE(ok);
  result<void> failed(std::errc::broken_pipe);
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.error(), std::errc::broken_pipe);
}

}  // namespace
}  // namespace ringline::runtime

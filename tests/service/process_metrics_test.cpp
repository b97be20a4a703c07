// The process_* metrics read from /proc/self, checked against what this test process does.
#include "service/process_metrics.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <ctime>
#include <vector>

#include "runtime/unique_fd.hpp"

namespace ringline::service {
namespace {

TEST(process_metrics_test, open_fds_counts_descriptors_this_process_opens) {
  const auto before = read_process_metrics().open_fds;
  ASSERT_TRUE(before.has_value());
  std::vector<runtime::unique_fd> opened;
  for (int i = 0; i < 10; ++i) {
    opened.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(opened.back());
  }
  EXPECT_EQ(read_process_metrics().open_fds, *before + 10);
  opened.clear();
  EXPECT_EQ(read_process_metrics().open_fds, *before);
}

TEST(process_metrics_test, memory_limits_cpu_and_start_time_are_plausible) {
  const auto now = read_process_metrics();
  ASSERT_TRUE(now.resident_bytes && now.virtual_bytes && now.max_fds && now.cpu_seconds &&
              now.start_time_seconds);
  EXPECT_GT(*now.resident_bytes, 100'000U);
  EXPECT_GE(*now.virtual_bytes, *now.resident_bytes);
  EXPECT_GT(*now.max_fds, *now.open_fds);
  EXPECT_GE(*now.cpu_seconds, 0.0);
  // This process started within the last hour (a test run), and not in the future.
  const auto wall = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*now.start_time_seconds, wall + 1);
  EXPECT_GT(*now.start_time_seconds, wall - 3600);
}

}  // namespace
}  // namespace ringline::service

// The process_* metrics read from /proc/self, checked against what this test process does.
#include "service/process_metrics.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
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

TEST(process_metrics_test, listing_the_descriptors_counts_the_same) {
  // The fallback of kernels before 6.2, on this one: the same count as the fast way.
  std::vector<runtime::unique_fd> opened;
  for (int i = 0; i < 5; ++i) {
    opened.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  EXPECT_EQ(detail::list_open_fds(), read_process_metrics().open_fds);
}

TEST(process_metrics_test, counting_many_descriptors_takes_constant_time) {
  // With 15,000 open, listing /proc/self/fd takes about 50 ms; the directory's size (Linux
  // 6.2 and later) takes microseconds. The scrape runs on the main loop.
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const auto saved = limit;
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 16'000) {
    GTEST_SKIP() << "needs 16,000 descriptors";
  }
  std::vector<runtime::unique_fd> opened;
  for (int i = 0; i < 15'000; ++i) {
    opened.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  auto fastest = std::chrono::steady_clock::duration::max();
  std::optional<std::uint64_t> counted;
  for (int i = 0; i < 5; ++i) {
    const auto started = std::chrono::steady_clock::now();
    counted = read_process_metrics().open_fds;
    fastest = std::min(fastest, std::chrono::steady_clock::now() - started);
  }
  EXPECT_GE(counted.value_or(0), 15'000U);
  EXPECT_LT(fastest, std::chrono::milliseconds(5));
  opened.clear();
  ::setrlimit(RLIMIT_NOFILE, &saved);
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

// The programs refuse to run without io_uring in one clear line and a non-zero exit, never a
// crash or a hang: started under a seccomp filter that refuses io_uring_setup, as Docker's
// default profile does (EPERM) and as an old kernel does (ENOSYS).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/build_paths.hpp"
#include "tests/support/child_process.hpp"

namespace ringline {
namespace {

using namespace std::chrono_literals;
using test_support::child_options;
using test_support::child_process;

struct refused_run {
  std::optional<int> exit_code;
  std::string stderr_text;
};

refused_run run_without_io_uring(const char* error, const std::string& program,
                                 std::vector<std::string> args) {
  child_options options;
  options.argv = {RINGLINE_WITHOUT_IO_URING_PATH, error, program};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  child_process child(std::move(options));
  refused_run run;
  run.exit_code = child.wait_for_exit(5s);
  run.stderr_text = child.stderr_so_far();
  return run;
}

void expect_one_clear_line(const refused_run& run, const std::string& cause) {
  ASSERT_TRUE(run.exit_code.has_value()) << "did not exit; stderr: " << run.stderr_text;
  EXPECT_EQ(*run.exit_code, 1) << run.stderr_text;
  EXPECT_EQ(std::count(run.stderr_text.begin(), run.stderr_text.end(), '\n'), 1) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("io_uring is not available"), std::string::npos)
      << run.stderr_text;
  EXPECT_NE(run.stderr_text.find(cause), std::string::npos) << run.stderr_text;
}

TEST(no_io_uring_test, server_names_seccomp_when_setup_is_not_permitted) {
  auto run = run_without_io_uring("EPERM", test_support::server_path(), {"--port", "0"});
  expect_one_clear_line(run, "seccomp");
}

TEST(no_io_uring_test, server_names_the_kernel_when_io_uring_is_missing) {
  auto run = run_without_io_uring("ENOSYS", test_support::server_path(), {"--port", "0"});
  expect_one_clear_line(run, "kernel");
}

TEST(no_io_uring_test, client_says_the_same) {
  auto run = run_without_io_uring("EPERM", test_support::client_path(), {"--port", "1"});
  expect_one_clear_line(run, "seccomp");
}

}  // namespace
}  // namespace ringline

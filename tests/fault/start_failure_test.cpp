// A server that cannot start exits 1 at once, with an `error` line that says why, even at
// --log-level warn: too few descriptors for its threads, its port taken, the metrics port
// taken, a sink it cannot open. And a sink that fails later says so at `error` too.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/notify_socket.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_listener.hpp"

namespace ringline::fault {
namespace {

using test_support::child_process;
using test_support::temp_dir;
using test_support::test_listener;

/// What a server that could not start did.
struct failed_start {
  std::optional<int> exit_code;  // nullopt: still running after the wait (then killed)
  std::string log;
};

/// Runs ringline-server on 127.0.0.1 port 0 at --log-level warn with `args`, and waits for
/// its exit. --shutdown-grace 10m: a server that reached its drain and waits there for
/// something that will never come cannot pass for one that exits in time.
failed_start start_failing(std::vector<std::string> args,
                           std::optional<rlim_t> nofile_limit = std::nullopt,
                           std::vector<std::string> env = {}) {
  args.insert(args.end(), {"--log-level", "warn", "--shutdown-grace", "10m"});
  auto options = server_options(std::move(args));
  options.nofile_limit = nofile_limit;
  options.env = std::move(env);
  child_process server(std::move(options));
  failed_start result;
  result.exit_code = server.wait_for_exit(k_wait);
  result.log = server.stderr_so_far();
  return result;
}

/// Returns the log line that contains `text`, or an empty string.
std::string line_with(const std::string& log, std::string_view text) {
  for (const auto& line : split_lines(log)) {
    if (line.find(text) != std::string::npos) {
      return line;
    }
  }
  return {};
}

/// Expects `result` to be an exit 1 whose log has an error line containing each of `words`.
void expect_error_exit(const failed_start& result, const std::vector<std::string_view>& words) {
  EXPECT_EQ(result.exit_code, 1) << result.log;
  const auto line = line_with(result.log, words.front());
  ASSERT_FALSE(line.empty()) << "no line with '" << words.front() << "':\n" << result.log;
  EXPECT_NE(line.find(" error "), std::string::npos) << line;
  for (const auto word : words) {
    EXPECT_NE(line.find(word), std::string::npos) << line;
  }
  EXPECT_EQ(result.log.find("listening on"), std::string::npos) << result.log;
}

TEST(start_failure_test, too_few_descriptors_for_40_threads_exits_1_at_once_saying_why) {
  // With 64 descriptors a worker's eventfd or its copy of the listener cannot be had: the
  // workers prepared before it never start, and the drain must not wait for them.
  const temp_dir dir;
  const auto result = start_failing({"--sink", "none", "--threads", "40"}, 64,
                                    {ubsan_options_for_fd_exhaustion(dir)});
  expect_error_exit(result, {"cannot start --threads 40", "Too many open files", "ulimit -n"});
}

TEST(start_failure_test, too_few_descriptors_for_256_threads_exits_1_at_once_saying_why) {
  const temp_dir dir;
  const auto result = start_failing({"--sink", "none", "--threads", "256"}, 64,
                                    {ubsan_options_for_fd_exhaustion(dir)});
  expect_error_exit(result, {"cannot start --threads 256", "Too many open files"});
}

TEST(start_failure_test, a_taken_port_is_an_error_line_at_log_level_warn) {
  const test_listener taken;
  const auto port = std::to_string(taken.port());
  expect_error_exit(start_failing({"--sink", "none", "--threads", "1", "--port", port}),
                    {"cannot listen", port});
}

TEST(start_failure_test, a_taken_metrics_port_is_an_error_line_at_log_level_warn) {
  const test_listener taken;
  const auto where = "127.0.0.1:" + std::to_string(taken.port());
  expect_error_exit(start_failing({"--sink", "none", "--threads", "1", "--metrics", where}),
                    {"--metrics " + where, "cannot listen"});
}

TEST(start_failure_test, an_unusable_sink_is_an_error_line_at_log_level_warn) {
  const temp_dir dir;
  const auto missing = dir.file("no-such-dir").string() + "/lines.log";
  expect_error_exit(start_failing({"--sink", missing, "--threads", "1"}), {missing});
  // A directory as the sink: it exists, but no line can be appended to it.
  expect_error_exit(start_failing({"--sink", dir.path().string(), "--threads", "1"}),
                    {dir.path().string()});
}

TEST(start_failure_test, a_sink_write_that_fails_is_an_error_line_at_log_level_warn) {
  // /dev/full: every write fails with ENOSPC, as on a full disk. At this level there is no
  // "listening on" line: the port comes from READY=1's STATUS.
  test_support::notify_socket manager;
  auto options =
      server_options({"--sink", "/dev/full", "--threads", "1", "--quiet", "--log-level", "warn"});
  options.env = {manager.env()};
  child_process server(std::move(options));
  const auto ready = manager.wait_for("READY=1", k_wait);
  ASSERT_TRUE(ready) << server.stderr_so_far();
  const auto address =
      test_support::parse_listening_line(test_support::notify_value(*ready, "STATUS").value_or(""));
  ASSERT_TRUE(address) << *ready;
  auto client = test_support::socket_client::connect(address->host, address->port);
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  client.send_all("lost\n");
  const auto line = wait_for_stderr_line(server, "sink: write failed");
  ASSERT_TRUE(line) << server.stderr_so_far();
  EXPECT_NE(line->find(" error "), std::string::npos) << *line;
  EXPECT_NE(line->find("No space left on device"), std::string::npos) << *line;
}

}  // namespace
}  // namespace ringline::fault

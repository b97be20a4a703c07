// The file sink of the real ringline-server: appended to, never truncated, and repaired at
// start when a crash left a torn (unterminated) last line.

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_process;
using test_support::temp_dir;

class file_sink_test : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path sink_path() const { return m_dir.file("lines.log"); }

  server_process start() {
    return start_server({"--sink", sink_path().string()}, m_dir.file("stdout.txt"));
  }

  /// Sends `message` with ringline-client and expects it acked.
  static void send(const server_process& server, const std::string& message) {
    auto args = client_args_for(server);
    args.insert(args.end(), {"--message", message});
    const auto client = run_client(args);
    EXPECT_EQ(client.exit_code, 0) << client.err;
    EXPECT_EQ(client.out, std::string(k_greeting) + std::string(k_ack));
  }

  /// Returns the start-up stderr lines that mention a repair of the sink.
  static std::vector<std::string> repair_lines(const server_process& server) {
    std::vector<std::string> found;
    std::copy_if(server.startup_lines().begin(), server.startup_lines().end(),
                 std::back_inserter(found),
                 [](const std::string& line) { return line.find("torn") != std::string::npos; });
    return found;
  }

  /// Leaves the sink as a server killed mid-write would: `acked` written and acknowledged by a
  /// real server that is then killed (its writer mark stays), then `torn` appended as the
  /// part of a line it was writing when it died.
  void leave_crashed_writer(const std::string& acked, const std::string& torn,
                            std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args{"--sink", sink_path().string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto server = start_server(args, m_dir.file("stdout.txt"));
    send(server, acked);
    ASSERT_TRUE(server.process().send_signal(SIGKILL));
    ASSERT_EQ(server.process().wait_for_exit(k_wait), 128 + SIGKILL);
    append_file(sink_path(), torn);
  }

  /// Runs a server that must refuse to start; one that starts anyway is killed after 5 s, so
  /// such a failure costs seconds, not the default wait.
  static program_run run_refused(std::vector<std::string> args) {
    args.insert(args.begin(), test_support::server_path());
    return run_program(std::move(args), std::nullopt, std::chrono::seconds(5));
  }

  static void append_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::app) << content;
  }

  temp_dir m_dir;
};

TEST_F(file_sink_test, torn_last_line_left_by_a_killed_server_is_cut_and_the_repair_reported) {
  leave_crashed_writer("old", "torn");

  auto server = start();

  // Cut before the server accepts, not when the first line arrives.
  EXPECT_EQ(read_file(sink_path()), "old\n");
  const auto repairs = repair_lines(server);
  ASSERT_EQ(repairs.size(), 1U) << server.process().stderr_so_far();
  EXPECT_NE(repairs[0].find(sink_path().string()), std::string::npos) << repairs[0];
  EXPECT_NE(repairs[0].find("4 bytes"), std::string::npos) << repairs[0];

  send(server, "new");
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_EQ(read_file(sink_path()), "old\nnew\n");
  EXPECT_EQ(read_file(m_dir.file("stdout.txt")), "");
}

TEST_F(file_sink_test, torn_line_as_long_as_the_killed_servers_line_limit_is_cut) {
  // The killed server allowed lines of 200,000 bytes; the next one is started with the
  // default 65,536, and still repairs what its predecessor can have left.
  leave_crashed_writer("old", std::string(100'000, 'x'), {"--max-line-bytes", "200000"});

  auto server = start();

  EXPECT_EQ(read_file(sink_path()), "old\n");
  const auto repairs = repair_lines(server);
  ASSERT_EQ(repairs.size(), 1U) << server.process().stderr_so_far();
  EXPECT_NE(repairs[0].find("100000 bytes"), std::string::npos) << repairs[0];
  send(server, "new");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink_path()), "old\nnew\n");
}

TEST_F(file_sink_test, tail_longer_than_any_line_the_killed_server_took_is_never_cut) {
  const std::string tail(70'000, 'x');  // over --max-line-bytes 65536 + '\r'
  leave_crashed_writer("old", tail);

  const auto refused = run_refused({"--port", "0", "--sink", sink_path().string()});

  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("refusing to cut it"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(sink_path().string()), std::string::npos) << refused.err;
  EXPECT_EQ(read_file(sink_path()), "old\n" + tail);
}

TEST_F(file_sink_test, unterminated_line_no_server_wrote_is_never_cut) {
  // A file another program wrote: notes without a final newline, or no newline at all.
  for (const std::string& content :
       {std::string("my notes\nthe last line has no newline"), std::string(298'830, 'n')}) {
    write_file(sink_path(), content);

    const auto refused = run_refused({"--port", "0", "--sink", sink_path().string()});

    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_NE(refused.err.find("refusing to cut it"), std::string::npos) << refused.err;
    EXPECT_EQ(read_file(sink_path()), content);
  }
}

TEST_F(file_sink_test, after_a_clean_stop_a_later_unterminated_tail_is_not_ours) {
  {
    auto server = start();
    send(server, "one");
    EXPECT_EQ(server.stop(k_wait), 0);
  }
  append_file(sink_path(), "written by someone else");

  const auto refused = run_refused({"--port", "0", "--sink", sink_path().string()});

  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(read_file(sink_path()), "one\nwritten by someone else");
}

TEST_F(file_sink_test, second_server_on_the_same_file_exits_naming_it_and_the_holder) {
  auto first = start();
  send(first, "acked by the first");
  // What a crash of the first would leave mid-write; the second must not touch it either.
  append_file(sink_path(), "partial");

  const auto second = run_refused({"--port", "0", "--sink", sink_path().string()});

  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find(sink_path().string()), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("in use by another process (pid " +
                            std::to_string(first.process().pid()) + ")"),
            std::string::npos)
      << second.err;
  EXPECT_EQ(read_file(sink_path()), "acked by the first\npartial");
  EXPECT_EQ(first.process().send_signal(SIGKILL), true);
  (void)first.process().wait_for_exit(k_wait);
}

TEST_F(file_sink_test, two_servers_may_share_a_device_sink_such_as_dev_null) {
  // A device holds no lines to interleave; a lock on it would let one server on the machine
  // keep every other from using /dev/null or /dev/full.
  auto first = start_server({"--sink", "/dev/null"}, m_dir.file("first.txt"));
  auto second = start_server({"--sink", "/dev/null"}, m_dir.file("second.txt"));
  send(first, "one");
  send(second, "two");
  EXPECT_EQ(first.stop(k_wait), 0);
  EXPECT_EQ(second.stop(k_wait), 0);
}

TEST_F(file_sink_test, second_server_on_a_taken_port_never_touches_the_file) {
  auto first = start();
  send(first, "acked");
  append_file(sink_path(), "partial");

  const auto second = run_refused(
      {"--port", std::to_string(first.port()), "--sink", m_dir.file("other.log").string()});
  EXPECT_EQ(second.exit_code, 1) << second.err;
  // It never got as far as the sink: not even creating it.
  EXPECT_FALSE(std::filesystem::exists(m_dir.file("other.log")));

  const auto third =
      run_refused({"--port", std::to_string(first.port()), "--sink", sink_path().string()});
  EXPECT_EQ(third.exit_code, 1) << third.err;
  EXPECT_EQ(read_file(sink_path()), "acked\npartial");
  EXPECT_EQ(first.process().send_signal(SIGKILL), true);
  (void)first.process().wait_for_exit(k_wait);
}

TEST_F(file_sink_test, complete_file_is_appended_to_without_repair) {
  write_file(sink_path(), "a\n\nb\n");

  auto server = start();

  EXPECT_TRUE(repair_lines(server).empty()) << server.process().stderr_so_far();
  send(server, "c");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink_path()), "a\n\nb\nc\n");
}

TEST_F(file_sink_test, missing_file_is_created) {
  ASSERT_FALSE(std::filesystem::exists(sink_path()));

  auto server = start();

  EXPECT_TRUE(std::filesystem::exists(sink_path()));
  EXPECT_TRUE(repair_lines(server).empty());
  send(server, "first");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink_path()), "first\n");
}

TEST_F(file_sink_test, restarted_server_appends_instead_of_truncating) {
  {
    auto server = start();
    send(server, "one");
    EXPECT_EQ(server.stop(k_wait), 0);
  }
  {
    auto server = start();
    EXPECT_TRUE(repair_lines(server).empty());
    send(server, "two");
    EXPECT_EQ(server.stop(k_wait), 0);
  }
  EXPECT_EQ(read_file(sink_path()), "one\ntwo\n");
}

}  // namespace
}  // namespace ringline::integration

// The file sink of the real ringline-server: appended to, never truncated, and repaired at
// start when a crash left a torn (unterminated) last line.

#include <algorithm>
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

  temp_dir m_dir;
};

TEST_F(file_sink_test, torn_last_line_is_cut_at_start_and_the_repair_is_reported) {
  write_file(sink_path(), "old\ntorn");

  auto server = start();

  // Cut before the server listens, not when the first line arrives.
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

TEST_F(file_sink_test, torn_tail_longer_than_one_read_block_is_cut) {
  write_file(sink_path(), "old\n" + std::string(100'000, 'x'));

  auto server = start();

  EXPECT_EQ(read_file(sink_path()), "old\n");
  const auto repairs = repair_lines(server);
  ASSERT_EQ(repairs.size(), 1U) << server.process().stderr_so_far();
  EXPECT_NE(repairs[0].find("100000 bytes"), std::string::npos) << repairs[0];
  send(server, "new");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink_path()), "old\nnew\n");
}

TEST_F(file_sink_test, file_holding_only_a_torn_line_is_emptied) {
  write_file(sink_path(), "torn without any newline");

  auto server = start();

  EXPECT_EQ(read_file(sink_path()), "");
  EXPECT_EQ(repair_lines(server).size(), 1U) << server.process().stderr_so_far();
  send(server, "new");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink_path()), "new\n");
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

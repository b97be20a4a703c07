// --quiet: a server told to be quiet logs no connect or disconnect lines, while the same
// conversation without it logs both; the start-up and shutdown lines stay either way.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/integration_support.hpp"

namespace ringline::integration {
namespace {

/// Runs one conversation (greeting, one line, its ack, close) against a server started with
/// `args`, stops the server, and returns every line it wrote to stderr.
std::vector<std::string> stderr_of_a_conversation(std::vector<std::string> args) {
  args.insert(args.end(), {"--host", "127.0.0.1", "--sink", "none"});
  auto server = start_server_quietly(std::move(args));
  auto client = server.connect();
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("hello\n");
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  client.close();
  // The server's last line comes after every session ended, and with it their logging.
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  return split_lines(server.process().stderr_so_far());
}

std::size_t count_starting_with(const std::vector<std::string>& lines, std::string_view prefix) {
  std::size_t count = 0;
  for (const auto& line : lines) {
    count += test_support::log_message(line).starts_with(prefix) ? 1U : 0U;
  }
  return count;
}

TEST(quiet_test, quiet_server_logs_no_connect_or_disconnect_lines) {
  const auto lines = stderr_of_a_conversation({"--quiet"});
  EXPECT_EQ(count_starting_with(lines, "connect "), 0U) << ::testing::PrintToString(lines);
  EXPECT_EQ(count_starting_with(lines, "disconnect "), 0U) << ::testing::PrintToString(lines);
  EXPECT_EQ(count_starting_with(lines, "ringline-server "), 1U) << ::testing::PrintToString(lines);
}

TEST(quiet_test, server_without_quiet_logs_connect_and_disconnect) {
  const auto lines = stderr_of_a_conversation({});
  EXPECT_EQ(count_starting_with(lines, "connect 127.0.0.1:"), 1U)
      << ::testing::PrintToString(lines);
  EXPECT_EQ(count_starting_with(lines, "disconnect 127.0.0.1:"), 1U)
      << ::testing::PrintToString(lines);
}

}  // namespace
}  // namespace ringline::integration

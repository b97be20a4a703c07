// What a careless start must not break: closed standard descriptors, and a full server's
// refusals, which are logged but never flood the log.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

TEST(operator_safety_test, closed_standard_descriptors_are_not_taken_by_the_server_itself) {
  // Started as `ringline-server <&- >&-`: were descriptor 1 left free, the first descriptor
  // the server opens (its signalfd or ring) would become its stdout sink.
  test_support::child_options options;
  options.argv = {"/bin/sh",
                  "-c",
                  "exec \"$0\" \"$@\" <&- >&-",
                  test_support::server_path(),
                  "--host",
                  "127.0.0.1",
                  "--port",
                  "0"};
  auto server = test_support::server_process::start(std::move(options), k_wait);
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("one\ntwo\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack) << server.process().stderr_so_far();
  EXPECT_EQ(client->read_line(k_wait), k_ack);
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(server.process().stderr_so_far().find("sink failed"), std::string::npos)
      << server.process().stderr_so_far();
}

TEST(operator_safety_test, refusals_are_logged_at_most_once_a_second) {
  auto server = start_server({"--sink", "none", "--max-connections", "1"});
  auto held = connect_greeted(server);
  ASSERT_TRUE(held);
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto refused = server.connect();
    ASSERT_EQ(refused.read_until_eof(k_wait), k_refusal);
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  const auto first = wait_for_stderr_line(server.process(), "refused 127.0.0.1:");
  ASSERT_TRUE(first) << server.process().stderr_so_far();
  EXPECT_NE(first->find("--max-connections 1 reached"), std::string::npos) << *first;
  held->close();
  EXPECT_EQ(server.stop(k_wait), 0);
  const auto lines = count_of(server.process().stderr_so_far(), "refused 127.0.0.1:");
  // One line a second at most: the 20 refusals took `elapsed`.
  EXPECT_LE(lines, 1 + static_cast<std::size_t>(
                           std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()))
      << server.process().stderr_so_far();
}

TEST(operator_safety_test, every_log_line_has_a_utc_time_and_a_level_and_start_up_says_what_runs) {
  auto server = start_server({"--sink", "none", "--max-connections", "77", "--idle-timeout", "5m"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0);
  const auto lines = split_lines(server.process().stderr_so_far());
  ASSERT_GE(lines.size(), 4U);  // start-up, connect, disconnect, signal, stats
  for (const auto& line : lines) {
    EXPECT_TRUE(test_support::has_log_prefix(line)) << line;
  }
  const auto start = test_support::log_message(lines.front());
  EXPECT_TRUE(start.starts_with("ringline-server ")) << start;
  const std::vector<std::string> settings{"(pid " + std::to_string(server.process().pid()) + ")",
                                          "sink=none",
                                          "durable=no",
                                          "max-connections=77",
                                          "idle-timeout=300s",
                                          "listening on 127.0.0.1:"};
  for (const auto& setting : settings) {
    EXPECT_NE(start.find(setting), std::string_view::npos) << setting << " in " << start;
  }
}

}  // namespace
}  // namespace ringline::fault

// ringline-client as a person at a terminal uses it: --stdin fed by hand, with pauses.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/integration/integration_support.hpp"

namespace ringline::integration {
namespace {

TEST(client_test, interactive_stdin_may_pause_longer_than_the_reply_timeout) {
  auto server = start_server_quietly({"--sink", "none"});
  test_support::child_options options;
  options.argv = {test_support::client_path(),   "--host",  server.host(), "--port",
                  std::to_string(server.port()), "--stdin", "--timeout",   "1"};
  options.stdin_mode = test_support::stdio_mode::pipe;
  test_support::child_process client(std::move(options));
  ASSERT_TRUE(client.write_stdin("first\n"));
  // The ack of the first line arrives; then the person thinks for longer than --timeout.
  const std::string expected_first = std::string(k_greeting) + std::string(k_ack);
  const test_support::deadline until(k_wait);
  while (client.stdout_so_far().size() < expected_first.size() && until.left().count() > 0) {
    (void)client.read_stderr_line(std::chrono::milliseconds(50));  // pumps stdout meanwhile
  }
  ASSERT_EQ(client.stdout_so_far(), expected_first);
  // The pause is the behaviour under test, not a synchronisation: no reply is owed during it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(client.write_stdin("second\n"));
  client.close_stdin();
  EXPECT_EQ(client.wait_for_exit(k_wait), 0) << client.stderr_so_far();
  EXPECT_EQ(client.stdout_so_far(), expected_first + std::string(k_ack));
}

}  // namespace
}  // namespace ringline::integration

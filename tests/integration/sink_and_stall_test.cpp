// Two ways a session can get stuck through no fault of the server: its sink's reader went
// away, or its client stopped reading acks. Neither may kill the server or hold a slot forever.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <system_error>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::socket_client;

TEST(sink_and_stall_test, closed_stdout_sink_is_an_error_not_a_crash) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--port", "0"};
  options.stdout_mode = test_support::stdio_mode::pipe;
  auto server = test_support::server_process::start(std::move(options), k_wait);
  server.process().close_stdout();  // the sink's reader goes away, as with `| head -1`

  auto client = socket_client::connect(server.host(), server.port());
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  client.send_all("never acknowledged\n");
  // The line could not be written, so it is not acknowledged: the session ends with the
  // protocol's error line instead.
  EXPECT_EQ(client.read_until_eof(k_wait), "error: sink failed\n");
  EXPECT_TRUE(wait_for_stderr_line(server.process(), "sink: write failed: Broken pipe", k_wait));
  EXPECT_TRUE(wait_for_stderr_line(server.process(), "(sink failed)", k_wait));

  // Still alive and accepting (no SIGPIPE); it acknowledges nothing any more, and says so to
  // new clients instead of greeting them.
  auto next = socket_client::connect(server.host(), server.port());
  EXPECT_EQ(next.read_line(k_wait), "error: sink unavailable\n");
  next.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(sink_and_stall_test, client_that_stops_reading_acks_is_dropped_after_idle_timeout) {
  auto server = start_server_quietly({"--sink", "none", "--idle-timeout", "1"});
  auto client = socket_client::connect(server.host(), server.port());
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  // Short lines make acks 25 times larger than their lines, so the ack path fills first.
  const std::string burst = repeat("x\n", std::size_t{32} * 1024);
  std::size_t sent = 0;
  for (int i = 0; i < 4096; ++i) {
    std::size_t n = 0;
    try {
      n = client.send_some(burst, 1s);
    } catch (const std::system_error&) {
      break;  // the server already dropped us (a reset): the stall was detected
    }
    if (n == 0) {
      break;  // the server stopped reading us: back-pressure reached the sender
    }
    sent += n;
  }
  EXPECT_LT(sent, std::size_t{4096} * burst.size()) << "the server never pushed back";
  const auto line = wait_for_stderr_line(server.process(), "(client stopped reading)", k_wait);
  ASSERT_TRUE(line.has_value()) << server.process().stderr_so_far();
  EXPECT_NE(line->find("disconnect "), std::string::npos);

  // The slot is free again: a new client is served.
  auto next = socket_client::connect(server.host(), server.port());
  EXPECT_EQ(next.read_line(k_wait), std::string(k_greeting));
  next.send_all("after\n");
  EXPECT_EQ(next.read_line(k_wait), std::string(k_ack));
  next.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(sink_and_stall_test, durable_file_sink_acks_lines_that_are_in_the_file) {
  test_support::temp_dir dir;
  const auto path = dir.file("durable.log");
  auto server = start_server_quietly({"--sink", path.string(), "--durable"});
  auto client = socket_client::connect(server.host(), server.port());
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  client.send_all("one\ntwo\n");
  ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
  ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
  // Acked means written (and flushed): the file holds both lines while the server still runs.
  EXPECT_EQ(read_file(path), "one\ntwo\n");
  client.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(sink_and_stall_test, shutdown_ends_even_when_the_stdout_sink_is_blocked) {
  // Nobody reads the server's stdout: once the pipe is full, the sink's write blocks for
  // good, and the sessions waiting on it with it.
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--port", "0", "--quiet", "--shutdown-grace", "1"};
  options.stdout_mode = test_support::stdio_mode::pipe;
  auto server = test_support::server_process::start(std::move(options), k_wait);
  auto client = socket_client::connect(server.host(), server.port());
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  const std::string burst = repeat(std::string(100, 'y') + "\n", 1024);
  for (int i = 0; i < 64; ++i) {  // 6.4 MB: far beyond a pipe's 64 KiB
    if (client.send_some(burst, 200ms) == 0) {
      break;
    }
  }
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  // The grace period (1 s) ends with the sink's write cancelled: exit 0, well before k_wait.
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
}

TEST(sink_and_stall_test, a_closed_stderr_does_not_stop_the_server) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--port", "0", "--sink", "none"};
  auto server = test_support::server_process::start(std::move(options), k_wait);
  server.process().close_stderr();  // every log line from now on fails with EPIPE
  for (int i = 0; i < 3; ++i) {
    auto client = socket_client::connect(server.host(), server.port());
    ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
    client.send_all("still here\n");
    EXPECT_EQ(client.read_line(k_wait), std::string(k_ack));
  }
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
}

}  // namespace
}  // namespace ringline::integration

// How the real ringline-server stops: SIGTERM and SIGINT end sessions gracefully and exit 0,
// the grace period bounds the wait for stuck sessions, and a second signal exits at once.

#include <signal.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_process;
using test_support::socket_client;
using test_support::temp_dir;

class shutdown_test : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path stdout_path() const { return m_dir.file("stdout.txt"); }

  server_process start(std::vector<std::string> args = {}) {
    return start_server(std::move(args), stdout_path());
  }

  /// Connects and pipelines lines without reading a single ack until the socket takes no
  /// more: the server, unable to send its acks, has stopped reading, so its session is stuck
  /// in a send. Returns false if the socket never filled up.
  static bool make_stuck_session(socket_client& connection) {
    const std::string chunk = repeat("x\n", std::size_t{32} * 1024);
    // Each round either moves up to 64 KiB or ends the loop; tens of MiB would be absurd.
    for (int round = 0; round < 1000; ++round) {
      if (connection.send_some(chunk, 200ms) == 0) {
        return true;
      }
    }
    return false;
  }

  temp_dir m_dir;
};

TEST_F(shutdown_test, sigterm_ends_open_sessions_and_the_server_exits_0) {
  auto server = start();
  auto connection = server.connect();
  ASSERT_EQ(connection.read_line(k_wait), k_greeting);
  connection.send_all("before shutdown\n");
  ASSERT_EQ(connection.read_line(k_wait), k_ack);

  ASSERT_TRUE(server.process().send_signal(SIGTERM));

  // The server half-closes the idle session; it stays readable until this side closes.
  EXPECT_TRUE(connection.wait_for_eof(k_wait));
  EXPECT_FALSE(connection.was_reset());
  EXPECT_EQ(connection.buffered(), "");
  connection.close();
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  const auto err = server.process().stderr_so_far();
  EXPECT_NE(err.find("signal 15: shutting down"), std::string::npos) << err;
  EXPECT_NE(err.find("(server shutdown)"), std::string::npos) << err;
  EXPECT_EQ(read_file(stdout_path()), "before shutdown\n");
}

TEST_F(shutdown_test, sigint_stops_the_server_like_sigterm) {
  auto server = start();
  auto connection = server.connect();
  ASSERT_EQ(connection.read_line(k_wait), k_greeting);
  connection.send_all("one\n");
  ASSERT_EQ(connection.read_line(k_wait), k_ack);

  ASSERT_TRUE(server.process().send_signal(SIGINT));

  EXPECT_TRUE(connection.wait_for_eof(k_wait));
  connection.close();
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_NE(server.process().stderr_so_far().find("signal 2: shutting down"), std::string::npos);
  EXPECT_EQ(read_file(stdout_path()), "one\n");
}

TEST_F(shutdown_test, idle_server_exits_0_on_sigterm_without_waiting_out_the_grace) {
  // The grace period is only for sessions: with none, the exit must come long before this
  // one ends (and before k_wait does).
  auto server = start({"--shutdown-grace", "3600"});

  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST_F(shutdown_test, grace_period_expiry_closes_stuck_sessions_and_exits_0) {
  auto server = start({"--shutdown-grace", "1"});
  auto connection = server.connect();
  ASSERT_TRUE(make_stuck_session(connection)) << "the server never applied back-pressure";

  ASSERT_TRUE(server.process().send_signal(SIGTERM));

  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_NE(server.process().stderr_so_far().find("grace period over: closing 1 sessions"),
            std::string::npos)
      << server.process().stderr_so_far();
  EXPECT_TRUE(connection.wait_for_eof(k_wait));
}

TEST_F(shutdown_test, second_signal_during_the_grace_period_exits_at_once) {
  auto server = start({"--shutdown-grace", "3600"});
  auto connection = server.connect();
  ASSERT_TRUE(make_stuck_session(connection)) << "the server never applied back-pressure";

  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "shutting down"))
      << server.process().stderr_so_far();
  // The stuck session keeps the server in its hour-long grace period, until:
  ASSERT_TRUE(server.process().send_signal(SIGTERM));

  EXPECT_EQ(server.process().wait_for_exit(k_wait), 128 + SIGTERM)
      << server.process().stderr_so_far();
  EXPECT_NE(server.process().stderr_so_far().find("second signal: exiting now"), std::string::npos)
      << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::integration

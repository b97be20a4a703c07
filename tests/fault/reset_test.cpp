// Clients that end badly or half-way: a reset mid-stream, a half-close, a close with acks
// unread. The session ends cleanly, the others are served, and the server never dies of it
// (no SIGPIPE).
#include <gtest/gtest.h>

#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::temp_dir;

TEST(reset_test, reset_mid_stream_ends_that_session_only) {
  // Not --quiet: the disconnect line shows how the session ended.
  auto server = start_server({"--sink", "none"});
  auto other = connect_greeted(server);
  ASSERT_TRUE(other);
  auto rude = connect_greeted(server);
  ASSERT_TRUE(rude);
  rude->send_all("a\nb\n");
  ASSERT_EQ(rude->read_line(k_wait), k_ack);
  ASSERT_EQ(rude->read_line(k_wait), k_ack);
  const auto rude_peer = peer_text(*rude);
  // More lines and half a line, then a reset with whatever acks are in flight unread.
  rude->send_all("c\nd\nhalf a li");
  rude->reset();

  const auto ended = wait_for_stderr_line(server.process(), "disconnect " + rude_peer);
  ASSERT_TRUE(ended) << server.process().stderr_so_far();
  EXPECT_NE(ended->find("(connection error)"), std::string::npos) << *ended;

  other->send_all("still here\n");
  EXPECT_EQ(other->read_line(k_wait), k_ack);
  auto next = connect_greeted(server);
  ASSERT_TRUE(next);
  next->send_all("new client\n");
  EXPECT_EQ(next->read_line(k_wait), k_ack);

  other->close();
  next->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(reset_test, half_close_after_three_lines_gets_three_acks_then_eof) {
  auto server = start_server({"--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("one\ntwo\nthree\n");
  client->shutdown_write();
  EXPECT_EQ(client->read_until_eof(k_wait), repeat(k_ack, 3));
  EXPECT_TRUE(client->eof());
  EXPECT_FALSE(client->was_reset());
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(reset_test, half_close_after_a_partial_line_acks_only_the_complete_ones) {
  const temp_dir dir;
  const auto sink_path = dir.file("lines.txt");
  auto server = start_server({"--sink", sink_path.string(), "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("one\ntwo\nthree\nno newline");
  client->shutdown_write();
  EXPECT_EQ(client->read_until_eof(k_wait), repeat(k_ack, 3));
  EXPECT_TRUE(client->eof());
  EXPECT_FALSE(client->was_reset());
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_EQ(read_file(sink_path), "one\ntwo\nthree\n");
}

TEST(reset_test, clients_closing_with_acks_unread_do_not_kill_the_server) {
  auto server = start_server({"--sink", "none"});
  for (int round = 0; round < 5; ++round) {
    auto client = connect_greeted(server);
    ASSERT_TRUE(client) << "round " << round;
    // Lines without reading acks until the socket is full: the server is then blocked
    // sending acks, the close (with unread input: a reset) makes that send fail with EPIPE or
    // ECONNRESET, where a send without MSG_NOSIGNAL would raise SIGPIPE.
    ASSERT_TRUE(fill_until_stalled(*client, 200ms)) << "round " << round;
    const auto peer = peer_text(*client);
    client->close();
    const auto ended = wait_for_stderr_line(server.process(), "disconnect " + peer);
    ASSERT_TRUE(ended) << "round " << round << "; exit code "
                       << server.process().wait_for_exit(0ms).value_or(-1) << "; stderr:\n"
                       << server.process().stderr_so_far();
    EXPECT_NE(ended->find("(connection error)"), std::string::npos) << *ended;
  }
  EXPECT_EQ(server.process().wait_for_exit(0ms), std::nullopt) << "the server exited";
  auto next = connect_greeted(server);
  ASSERT_TRUE(next);
  next->send_all("after the resets\n");
  EXPECT_EQ(next->read_line(k_wait), k_ack);
  next->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

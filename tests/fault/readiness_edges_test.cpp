// The places where a readiness loop (the epoll backend) goes wrong when it trusts one edge too
// much: the last lines and the FIN arriving together, a reset while the session waits for
// the rest of a line, and acks that fill the socket buffer and must resume. The suite runs on
// both backends (RINGLINE_BACKEND), so io_uring is held to the same.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::temp_dir;

TEST(readiness_edges_test, the_last_lines_and_the_fin_in_one_segment_are_acked_then_closed) {
  const temp_dir dir;
  const auto sink = dir.path() / "lines.log";
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  // Corked, the kernel holds the lines back; the FIN of the half-close then rides in the same
  // segment, so the server sees the data and the end of stream in one event. A loop that
  // reads once per edge acks the lines and never sees the EOF.
  const int on = 1;
  ASSERT_EQ(::setsockopt(client->fd(), IPPROTO_TCP, TCP_CORK, &on, sizeof on), 0);
  client->send_all("first\nsecond\nthird\n");
  client->shutdown_write();
  EXPECT_EQ(client->read_until_eof(k_wait), repeat(k_ack, 3));
  EXPECT_TRUE(client->eof());
  EXPECT_FALSE(client->was_reset());
  EXPECT_EQ(read_file(sink), "first\nsecond\nthird\n");
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(readiness_edges_test, a_reset_while_waiting_for_the_rest_of_a_line_frees_the_slot) {
  // One slot: the next client is greeted only once the reset session has let go of it.
  auto server = start_server({"--sink", "none", "--max-connections", "1"});
  auto rude = connect_greeted(server);
  ASSERT_TRUE(rude);
  rude->send_all("done\nhalf a li");
  ASSERT_EQ(rude->read_line(k_wait), k_ack);  // the session has read the half line too
  const auto rude_peer = peer_text(*rude);
  rude->reset();
  const auto ended = wait_for_stderr_line(server.process(), "disconnect " + rude_peer);
  ASSERT_TRUE(ended) << server.process().stderr_so_far();
  EXPECT_NE(ended->find("(connection error)"), std::string::npos) << *ended;
  // The slot is released as the session's close completes, just after the log line: a
  // client refused meanwhile ("not connect") tries again, within a bound.
  std::optional<test_support::socket_client> next;
  for (const deadline until(k_wait); !next && !until.expired();) {
    auto attempt = test_support::socket_client::connect(server.host(), server.port());
    if (attempt.read_line(k_wait) == k_greeting) {
      next = std::move(attempt);
    }
  }
  ASSERT_TRUE(next) << server.process().stderr_so_far();
  next->send_all("next\n");
  EXPECT_EQ(next->read_line(k_wait), k_ack);
  next->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(readiness_edges_test, acks_that_fill_the_socket_buffer_resume_once_the_client_reads) {
  auto server = start_server({"--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  // Short lines, so the acks (49 bytes each) outgrow the lines: the server's sends fill its
  // socket buffer and the client's receive buffer, the server stops reading, and the client's
  // sends stall. Two empty waits in a row mean that point was reached.
  const std::string chunk = repeat("l\n", 8192);
  std::size_t bytes = 0;
  int empty_rounds = 0;
  for (const deadline until(60s); empty_rounds < 2 && !until.expired();) {
    // From where the last short send stopped, so the stream stays "l\n" after "l\n".
    const auto sent = client->send_some(std::string_view(chunk).substr(bytes % 2), 300ms);
    bytes += sent;
    empty_rounds = sent == 0 ? empty_rounds + 1 : 0;
  }
  ASSERT_EQ(empty_rounds, 2) << "the server never stopped reading";
  const std::size_t lines = bytes / 2;  // a last "l" without its newline is no line yet
  // Every line gets its ack, in order, once the client reads: the stalled send resumed.
  std::size_t acks = 0;
  for (const deadline until(60s); acks < lines && !until.expired(); ++acks) {
    const auto line = client->read_line(until.left());
    ASSERT_EQ(line, k_ack) << "after " << acks << " of " << lines << " acks";
  }
  EXPECT_EQ(acks, lines);
  // The session reads again: the half line is finished, and one more line follows.
  client->send_all(bytes % 2 == 1 ? "\nafter\n" : "after\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack);
  if (bytes % 2 == 1) {
    EXPECT_EQ(client->read_line(k_wait), k_ack);
  }
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// The counters: SIGUSR1 prints one "stats: ..." line with the numbers the traffic so far
// produced, and the same line is printed when the server exits.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <map>
#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::server_process;
using test_support::socket_client;

using counters = std::map<std::string, std::uint64_t>;

/// Connects until a client gets the greeting (a session that just ended may hold its slot a
/// moment longer); returns it, and adds the refusals met on the way to `refusals`.
std::optional<socket_client> connect_when_slot_free(const server_process& server,
                                                    std::uint64_t& refusals) {
  const deadline until(k_wait);
  for (int attempt = 0; attempt < 1000 && !until.expired(); ++attempt) {
    auto client = server.connect();
    const auto reply = client.read_line(until.left());
    if (reply == k_greeting) {
      return client;
    }
    if (reply != k_refusal) {
      return std::nullopt;
    }
    ++refusals;
  }
  return std::nullopt;
}

/// Waits for the next stats line on the server's stderr and returns its counters (empty if
/// none came).
counters next_stats(server_process& server) {
  const auto line = wait_for_stderr_line(server.process(), "stats: ");
  return line ? parse_stats(*line) : counters{};
}

TEST(counters_test, sigusr1_and_exit_print_the_counters_of_the_traffic) {
  // Not --quiet: disconnect lines tell when a session has ended.
  auto server =
      start_server({"--max-connections", "2", "--max-line-bytes", "16", "--sink", "none"});
  auto a = connect_greeted(server);
  ASSERT_TRUE(a);
  auto b = connect_greeted(server);
  ASSERT_TRUE(b);
  {
    auto c = server.connect();  // the third: refused
    ASSERT_EQ(c.read_until_eof(k_wait), k_refusal);
  }
  a->send_all("a\nbb\nccc\n");  // 9 bytes, 3 lines
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(a->read_line(k_wait), k_ack);
  }
  b->send_all("ok\n0123456789abcdefghij\n");  // 24 bytes: 1 line, then one too long
  ASSERT_EQ(b->read_line(k_wait), k_ack);
  ASSERT_EQ(b->read_line(k_wait), k_line_too_long);
  ASSERT_TRUE(b->wait_for_eof(k_wait));  // the FIN comes after the error was counted
  b->close();

  std::uint64_t refusals = 1;
  auto d = connect_when_slot_free(server, refusals);
  ASSERT_TRUE(d);
  d->send_all("d\n");  // 2 bytes, 1 line
  ASSERT_EQ(d->read_line(k_wait), k_ack);
  const auto d_peer = peer_text(*d);
  d->reset();
  const auto d_ended = wait_for_stderr_line(server.process(), "disconnect " + d_peer);
  ASSERT_TRUE(d_ended) << server.process().stderr_so_far();
  EXPECT_NE(d_ended->find("(connection error)"), std::string::npos) << *d_ended;
  // With a and the limit at 2, a greeting for f means every other session has ended.
  auto f = connect_when_slot_free(server, refusals);
  ASSERT_TRUE(f);

  ASSERT_TRUE(server.process().send_signal(SIGUSR1));
  const auto live = next_stats(server);
  ASSERT_FALSE(live.empty()) << server.process().stderr_so_far();
  const counters expected = {
      {"accepted", 4 + refusals},  // a, b, d, f, and every refused one (c among them)
      {"refused", refusals},
      {"active", 2},  // a and f
      {"lines", 5},
      {"bytes", 35},
      {"line_too_long", 1},
      {"idle_timeout", 0},
      {"line_timeout", 0},
      {"stalled", 0},
      {"reset", 1},
      {"sink", 0},
      {"accept", 0},
      {"internal", 0},
      {"forced", 0},
      {"proxy_errors", 0},
      {"refused_per_ip", 0},
  };
  EXPECT_EQ(live, expected);

  // The server is still serving after printing.
  a->send_all("after the stats\n");
  ASSERT_EQ(a->read_line(k_wait), k_ack);
  a->close();
  f->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  auto at_exit = expected;
  at_exit["active"] = 0;
  at_exit["lines"] += 1;
  at_exit["bytes"] += 16;
  EXPECT_EQ(next_stats(server), at_exit) << server.process().stderr_so_far();
  EXPECT_EQ(count_of(server.process().stderr_so_far(), "stats: "), 2U);
}

TEST(counters_test, timeouts_and_stalls_are_counted) {
  // Not --quiet: the disconnect lines give each session's reason.
  auto server = start_server({"--idle-timeout", "1", "--line-timeout", "1", "--sink", "none"});
  auto idle = connect_greeted(server);
  ASSERT_TRUE(idle);
  auto slow = connect_greeted(server);
  ASSERT_TRUE(slow);
  auto stuck = connect_greeted(server);
  ASSERT_TRUE(stuck);
  const auto stuck_peer = peer_text(*stuck);
  slow->send_all("unfinished");  // 10 bytes
  // Lines and no reads: the server's ack send stalls, and is given up after --idle-timeout
  // (1 s); the stall is noticed well before that, while the connection is still open.
  ASSERT_TRUE(fill_until_stalled(*stuck, 200ms));
  EXPECT_EQ(idle->read_line(k_wait), k_idle_timeout);
  EXPECT_EQ(slow->read_line(k_wait), k_line_timeout);
  // The FIN comes after the error was counted.
  ASSERT_TRUE(idle->wait_for_eof(k_wait));
  ASSERT_TRUE(slow->wait_for_eof(k_wait));
  const auto dropped = wait_for_stderr_line(server.process(), "disconnect " + stuck_peer);
  ASSERT_TRUE(dropped) << server.process().stderr_so_far();
  EXPECT_NE(dropped->find("(client stopped reading)"), std::string::npos) << *dropped;
  // It is dropped without an error line (it does not read): only acks, then the end.
  EXPECT_TRUE(stuck->wait_for_eof(k_wait));
  EXPECT_TRUE(is_ack_stream(stuck->buffered()));

  ASSERT_TRUE(server.process().send_signal(SIGUSR1));
  const auto live = next_stats(server);
  ASSERT_FALSE(live.empty()) << server.process().stderr_so_far();
  EXPECT_EQ(live.at("accepted"), 3U);
  EXPECT_EQ(live.at("idle_timeout"), 1U);
  EXPECT_EQ(live.at("line_timeout"), 1U);
  EXPECT_EQ(live.at("stalled"), 1U);
  EXPECT_EQ(live.at("line_too_long"), 0U);
  EXPECT_EQ(live.at("reset"), 0U);
  // Only the stuck client sent lines ("x\n"); the last ones read were never acked.
  EXPECT_GT(live.at("lines"), 0U);
  EXPECT_GE(live.at("bytes"), 10 + 2 * live.at("lines"));

  idle->close();
  slow->close();
  stuck->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  const auto at_exit = next_stats(server);
  EXPECT_EQ(at_exit.at("idle_timeout"), 1U);
  EXPECT_EQ(at_exit.at("line_timeout"), 1U);
  EXPECT_EQ(at_exit.at("stalled"), 1U);
  EXPECT_EQ(at_exit.at("active"), 0U);
}

}  // namespace
}  // namespace ringline::fault

// --max-connections: a client beyond the limit gets "not connect" and is closed at once, the
// sessions within the limit are not disturbed, and a slot freed by a session that ended is
// given to the next client.
#include <gtest/gtest.h>

#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::socket_client;

TEST(connection_limit_test, client_beyond_the_limit_gets_not_connect_then_eof) {
  auto server = start_server({"--max-connections", "2", "--sink", "none", "--quiet"});
  auto first = connect_greeted(server);
  ASSERT_TRUE(first);
  auto second = connect_greeted(server);
  ASSERT_TRUE(second);

  auto third = server.connect();
  // Exactly the refusal, nothing before or after it, and an orderly close (a reset could
  // have destroyed the refusal before it was read).
  EXPECT_EQ(third.read_until_eof(k_wait), k_refusal);
  EXPECT_TRUE(third.eof());
  EXPECT_FALSE(third.was_reset());

  // The sessions within the limit still work.
  first->send_all("from first\n");
  second->send_all("from second\n");
  EXPECT_EQ(first->read_line(k_wait), k_ack);
  EXPECT_EQ(second->read_line(k_wait), k_ack);

  first->close();
  second->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(connection_limit_test, slot_freed_by_a_closed_session_goes_to_the_next_client) {
  // Not --quiet: the disconnect line tells when the session has ended.
  auto server = start_server({"--max-connections", "2", "--sink", "none"});
  auto first = connect_greeted(server);
  ASSERT_TRUE(first);
  auto second = connect_greeted(server);
  ASSERT_TRUE(second);
  {
    auto refused = server.connect();
    ASSERT_EQ(refused.read_until_eof(k_wait), k_refusal);
  }

  first->send_all("one\n");
  ASSERT_EQ(first->read_line(k_wait), k_ack);
  const auto first_peer = peer_text(*first);
  first->close();
  const auto ended = wait_for_stderr_line(server.process(), "disconnect " + first_peer);
  ASSERT_TRUE(ended) << server.process().stderr_so_far();
  EXPECT_NE(ended->find("lines=1 (client closed)"), std::string::npos) << *ended;

  // The disconnect line is written just before the session's descriptor is closed, so the
  // slot may be freed a moment later: a refusal in that moment is retried, within bounds.
  const deadline until(k_wait);
  std::optional<socket_client> next;
  int refusals = 0;
  for (int attempt = 0; attempt < 1000 && !until.expired(); ++attempt) {
    auto candidate = server.connect();
    const auto reply = candidate.read_line(until.left());
    if (reply == k_greeting) {
      next = std::move(candidate);
      break;
    }
    ASSERT_EQ(reply, k_refusal);
    ++refusals;
  }
  ASSERT_TRUE(next) << "no greeting after " << refusals << " refusals";
  next->send_all("after the slot was freed\n");
  EXPECT_EQ(next->read_line(k_wait), k_ack);
  // The limit still holds with the new session in the freed slot.
  {
    auto refused = server.connect();
    EXPECT_EQ(refused.read_until_eof(k_wait), k_refusal);
  }
  second->send_all("two\n");
  EXPECT_EQ(second->read_line(k_wait), k_ack);

  next->close();
  second->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// A client beyond --max-connections that starts sending at once still reads the refusal: the
// server drains what the client sent before closing, since a close with unread input sends a
// reset, and the reset makes the client's kernel report ECONNRESET instead of "not connect".
#include <gtest/gtest.h>

#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

// What the refused client sends right after connecting, before it reads anything.
constexpr std::size_t k_eager_bytes = 32 * 1024;

TEST(refusal_drain_test, refused_client_sending_at_once_still_reads_not_connect) {
  auto server = start_server({"--max-connections", "1", "--sink", "none", "--quiet"});
  auto holder = connect_greeted(server);
  ASSERT_TRUE(holder);

  // Several rounds, since each races the client's send against the server's refusal.
  for (int round = 0; round < 5; ++round) {
    auto eager = server.connect();
    // A failed send (the refusal came first and the server's socket is gone) is no failure
    // here; what the client can read afterwards is what counts.
    (void)eager.try_send_all(repeat("eager line\n", k_eager_bytes / 11));
    EXPECT_EQ(eager.read_until_eof(k_wait), k_refusal) << "round " << round;
    EXPECT_TRUE(eager.eof()) << "round " << round;
    EXPECT_FALSE(eager.was_reset()) << "round " << round;
  }

  holder->send_all("still served\n");
  EXPECT_EQ(holder->read_line(k_wait), k_ack);
  holder->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// After an error line the server lingers: it half-closes and keeps reading what the client
// still sends, so the client's kernel does not receive a reset that would destroy the acks and
// the error line it has not read yet. A client that sends a too-long line and much more behind
// it, and only then reads, gets every ack, the error line, and an orderly end.
#include <gtest/gtest.h>

#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

TEST(error_linger_test, acks_and_error_line_survive_input_sent_after_a_too_long_line) {
  auto server = start_server({"--max-line-bytes", "16", "--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);

  const std::string burst = "one\ntwo\nthis line is far too long for the limit\n" +
                            repeat("more input the server will never read\n", 200 * 1024 / 38);
  // The server reads and discards the rest while it lingers, so the send completes; should
  // it fail, the reads below show what the client lost.
  const auto sent = client->try_send_all(burst);
  EXPECT_FALSE(sent) << sent.message();
  // The FIN ends the server's lingering at once.
  client->shutdown_write();
  EXPECT_EQ(client->read_until_eof(k_wait),
            std::string(k_ack) + std::string(k_ack) + std::string(k_line_too_long));
  EXPECT_TRUE(client->eof());
  EXPECT_FALSE(client->was_reset());
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

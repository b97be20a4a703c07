// --idle-timeout and --line-timeout: a silent client and a client trickling an endless line
// are cut with their error line, not before their time; a client that keeps talking is not.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using clock = std::chrono::steady_clock;
using test_support::deadline;

TEST(timeout_test, silent_client_gets_idle_timeout_after_the_timeout) {
  auto server = start_server({"--idle-timeout", "1", "--sink", "none", "--quiet"});
  const auto connected = clock::now();
  auto client = server.connect();
  ASSERT_EQ(client.read_line(k_wait), k_greeting);
  EXPECT_EQ(client.read_line(10s), k_idle_timeout);
  const auto elapsed = clock::now() - connected;
  EXPECT_TRUE(client.wait_for_eof(k_wait));
  EXPECT_FALSE(client.was_reset());
  EXPECT_EQ(client.buffered(), "");
  // The timer starts after the connect began, so it cannot have fired sooner than 1 s later
  // (a little slack for the clock's rounding).
  EXPECT_GE(elapsed, 950ms);
  client.close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(timeout_test, client_sending_a_line_every_300ms_is_not_cut) {
  auto server = start_server({"--idle-timeout", "1", "--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  const auto started = clock::now();
  // Seven rounds of "line, ack, 300 ms of silence" span 2.1 s, twice the idle timeout. Each
  // silence is itself a check: the server must neither close nor send anything meanwhile.
  for (int round = 0; round < 7; ++round) {
    client->send_all("tick\n");
    ASSERT_EQ(client->read_line(k_wait), k_ack) << "round " << round;
    ASSERT_FALSE(client->wait_for_eof(300ms)) << "cut in round " << round;
    ASSERT_EQ(client->buffered(), "") << "round " << round;
  }
  EXPECT_GE(clock::now() - started, 2s);
  client->send_all("last\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack);
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(timeout_test, trickled_endless_line_gets_line_timeout_after_the_earlier_acks) {
  auto server =
      start_server({"--line-timeout", "1", "--idle-timeout", "0", "--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("first\nsecond\n");
  ASSERT_EQ(client->read_line(k_wait), k_ack);
  ASSERT_EQ(client->read_line(k_wait), k_ack);

  // One byte every 200 ms: never idle, never over the length limit, never a '\n'.
  const auto line_began = clock::now();
  std::optional<std::string> reply;
  int bytes = 0;
  for (const deadline until(10s); !until.expired() && !client->eof();) {
    client->send_all("x");
    ++bytes;
    reply = client->read_line(200ms);
    if (reply) {
      break;
    }
  }
  const auto elapsed = clock::now() - line_began;
  EXPECT_EQ(reply, k_line_timeout) << "after " << bytes << " bytes";
  EXPECT_GE(elapsed, 950ms);
  EXPECT_GE(bytes, 2);  // more bytes came after the line began: not cut at its first byte
  EXPECT_TRUE(client->wait_for_eof(k_wait));
  EXPECT_EQ(client->buffered(), "");
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// --line-timeout limits how long one line stays unfinished, not how long a client keeps having
// some unfinished line: a client whose every chunk ends one line and begins the next, each line
// short-lived, is never cut, although a partial line is pending the whole time.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using clock = std::chrono::steady_clock;

TEST(line_timeout_per_line_test, chunks_ending_one_line_and_starting_the_next_are_not_cut) {
  auto server =
      start_server({"--line-timeout", "1", "--idle-timeout", "0", "--sink", "none", "--quiet"});
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("start-0");
  const auto started = clock::now();
  // Eight rounds of 400 ms span 3.2 s, three times the line timeout; no line lives longer
  // than one round. Each silence is itself a check: nothing may arrive and no close happen.
  for (int round = 1; round <= 8; ++round) {
    ASSERT_FALSE(client->wait_for_eof(400ms)) << "cut in round " << round;
    ASSERT_EQ(client->buffered(), "") << "round " << round;
    client->send_all(fmt::format("rest-{}\nstart-{}", round - 1, round));
    ASSERT_EQ(client->read_line(k_wait), k_ack) << "round " << round;
  }
  EXPECT_GE(clock::now() - started, 3s);
  client->send_all("\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack);
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// Each way a session ends at shutdown is logged and counted as what it is: a session cut at
// the end of --shutdown-grace is "closed at the end of the shutdown grace" (counter forced),
// not a connection error; a discarding sink reports no write failure; SIGUSR1 is still
// answered while the server drains; SIGHUP never ends the server.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

TEST(shutdown_accounting_test, session_cut_at_the_end_of_the_grace_is_counted_as_forced) {
  auto server = start_server({"--sink", "none", "--shutdown-grace", "1"});
  auto stuck = connect_greeted(server);
  ASSERT_TRUE(stuck);
  ASSERT_TRUE(fill_until_stalled(*stuck));
  const auto peer = peer_text(*stuck);

  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "shutting down"));
  // While it drains, SIGUSR1 still prints the counters.
  ASSERT_TRUE(server.process().send_signal(SIGUSR1));
  const auto during = wait_for_stderr_line(server.process(), "stats: ");
  ASSERT_TRUE(during) << server.process().stderr_so_far();
  EXPECT_EQ(server.process().exit_code(), std::nullopt);

  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  const auto err = server.process().stderr_so_far();
  const auto ended = err.find("disconnect " + peer);
  ASSERT_NE(ended, std::string::npos) << err;
  const auto line = err.substr(ended, err.find('\n', ended) - ended);
  EXPECT_NE(line.find("(closed at the end of the shutdown grace)"), std::string::npos) << line;
  EXPECT_EQ(err.find("connection error"), std::string::npos) << err;
  EXPECT_EQ(err.find("sink: "), std::string::npos) << err;  // `none` cannot fail
  const auto at = err.rfind("stats: ");
  const auto counters = parse_stats(err.substr(at, err.find('\n', at) - at));
  EXPECT_EQ(counters.at("forced"), 1U) << err;
  EXPECT_EQ(counters.at("reset"), 0U) << err;
}

TEST(shutdown_accounting_test, sighup_leaves_the_server_serving) {
  auto server = start_server({"--sink", "none"});
  ASSERT_TRUE(server.process().send_signal(SIGHUP));
  EXPECT_TRUE(wait_for_stderr_line(server.process(), "SIGHUP"));
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all("after SIGHUP\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack);
  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// --max-connections-per-ip: one client address holds at most N sessions, whichever thread
// accepts them; beyond that it gets "not connect" (the full server's refusal) and is counted,
// while other addresses still get the slots that are left. With --proxy-protocol the address
// is the one the header carries. Two client addresses on one machine: 127.0.0.1 and 127.0.0.2
// (the client socket bound to it before connect; all of 127/8 is loopback).
#include <gtest/gtest.h>
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::server_process;
using test_support::socket_client;

constexpr const char* k_other_address = "127.0.0.2";

/// Connects to `server` from `source` (empty: 127.0.0.1, as the kernel picks it).
socket_client connect_from(const server_process& server, const std::string& source) {
  return socket_client::connect(server.host(), server.port(), source);
}

/// Connects from `source` and reads the greeting; nullopt if something else came.
std::optional<socket_client> greeted_from(const server_process& server, const std::string& source) {
  auto client = connect_from(server, source);
  if (client.read_line(k_wait) != k_greeting) {
    return std::nullopt;
  }
  return client;
}

/// Expects `client` to get exactly the refusal and an orderly close (no reset, which could have
/// destroyed the refusal before it was read); then closes it.
void expect_refused(socket_client& client, const std::string& what) {
  EXPECT_EQ(client.read_until_eof(k_wait), k_refusal) << what;
  EXPECT_TRUE(client.eof()) << what;
  EXPECT_FALSE(client.was_reset()) << what;
  client.close();
}

/// Asks the server for its counters (SIGUSR1) and returns them; empty if no line came.
std::map<std::string, std::uint64_t> live_counters(server_process& server) {
  if (!server.process().send_signal(SIGUSR1)) {
    return {};
  }
  const auto line = wait_for_stderr_line(server.process(), "stats: ");
  return line ? parse_stats(*line) : std::map<std::string, std::uint64_t>{};
}

TEST(client_limits_test, one_address_cannot_take_every_slot) {
  auto server = start_server({"--threads", "1", "--max-connections", "4",
                              "--max-connections-per-ip", "2", "--sink", "none", "--quiet"});
  std::vector<socket_client> held;
  for (int i = 0; i < 2; ++i) {
    auto client = greeted_from(server, "");
    ASSERT_TRUE(client) << "client " << i << " of 127.0.0.1";
    held.push_back(std::move(*client));
  }
  // Two slots of four are free, but not for this address.
  auto third = connect_from(server, "");
  expect_refused(third, "a third client of 127.0.0.1");
  // Another address gets them.
  for (int i = 0; i < 2; ++i) {
    auto client = greeted_from(server, k_other_address);
    ASSERT_TRUE(client) << "client " << i << " of 127.0.0.2";
    client->send_all("from the other address\n");
    EXPECT_EQ(client->read_line(k_wait), k_ack);
    held.push_back(std::move(*client));
  }
  // The sessions within the limit are undisturbed.
  held.front().send_all("still here\n");
  EXPECT_EQ(held.front().read_line(k_wait), k_ack);

  const auto logged = wait_for_stderr_line(server.process(), "--max-connections-per-ip 2 reached");
  ASSERT_TRUE(logged) << server.process().stderr_so_far();
  EXPECT_NE(logged->find(" warn refused 127.0.0.1:"), std::string::npos) << *logged;
  EXPECT_NE(logged->find("reached for 127.0.0.1 (1 refused since the last such line)"),
            std::string::npos)
      << *logged;
  const auto counters = live_counters(server);
  EXPECT_EQ(counters.at("refused_per_ip"), 1U);
  EXPECT_EQ(counters.at("refused"), 0U);  // the server was never full
  EXPECT_EQ(counters.at("active"), 4U);
  held.clear();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(client_limits_test, a_slot_freed_by_an_ended_session_goes_to_the_same_address) {
  // Not --quiet: the disconnect line tells when the session has ended.
  auto server = start_server({"--threads", "1", "--max-connections-per-ip", "1", "--sink", "none"});
  auto first = greeted_from(server, "");
  ASSERT_TRUE(first);
  {
    auto refused = connect_from(server, "");
    expect_refused(refused, "a second client of 127.0.0.1");
  }
  const auto first_peer = peer_text(*first);
  first->close();
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "disconnect " + first_peer))
      << server.process().stderr_so_far();
  // The disconnect line comes just before the session ends: a refusal in that moment is
  // retried, within bounds.
  std::optional<socket_client> next;
  const deadline until(k_wait);
  for (int attempt = 0; attempt < 1000 && !next && !until.expired(); ++attempt) {
    auto candidate = connect_from(server, "");
    const auto reply = candidate.read_line(until.left());
    if (reply == k_greeting) {
      next = std::move(candidate);
    } else {
      ASSERT_EQ(reply, k_refusal);
    }
  }
  ASSERT_TRUE(next) << "the freed slot never came back";
  next->send_all("again\n");
  EXPECT_EQ(next->read_line(k_wait), k_ack);
  auto over = connect_from(server, "");
  expect_refused(over, "a client beyond the freed slot's new holder");
  next->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(client_limits_test, the_limit_is_exact_across_threads) {
  auto server = start_server(
      {"--threads", "4", "--max-connections-per-ip", "3", "--sink", "none", "--quiet"});
  std::vector<socket_client> held;
  for (int i = 0; i < 3; ++i) {
    auto client = greeted_from(server, "");
    ASSERT_TRUE(client) << "client " << i;
    held.push_back(std::move(*client));
  }
  // Whichever of the four threads accepts them, every further client of the address is over
  // its one limit; the other address is not.
  constexpr int k_extra = 12;
  for (int i = 0; i < k_extra; ++i) {
    auto extra = connect_from(server, "");
    expect_refused(extra, "extra client " + std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) {
    auto client = greeted_from(server, k_other_address);
    ASSERT_TRUE(client) << "client " << i << " of 127.0.0.2";
    held.push_back(std::move(*client));
  }
  auto other_extra = connect_from(server, k_other_address);
  expect_refused(other_extra, "a fourth client of 127.0.0.2");
  const auto counters = live_counters(server);
  EXPECT_EQ(counters.at("refused_per_ip"), k_extra + 1U);
  EXPECT_EQ(counters.at("active"), 6U);
  held.clear();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(client_limits_test, refusals_are_logged_at_most_once_a_second) {
  auto server = start_server(
      {"--threads", "2", "--max-connections-per-ip", "1", "--sink", "none", "--quiet"});
  auto holder = greeted_from(server, "");
  ASSERT_TRUE(holder);
  const auto started = std::chrono::steady_clock::now();
  constexpr int k_refusals = 40;
  for (int i = 0; i < k_refusals; ++i) {
    auto refused = connect_from(server, "");
    ASSERT_EQ(refused.read_line(k_wait), k_refusal) << "client " << i;
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  // Every refusal is counted, in the counters and in the lines' own counts.
  EXPECT_EQ(live_counters(server).at("refused_per_ip"), static_cast<std::uint64_t>(k_refusals));
  const auto log = server.process().stderr_so_far();
  const auto lines = count_of(log, "--max-connections-per-ip 1 reached");
  EXPECT_GE(lines, 1U) << log;
  // One line a second at most: the burst took `seconds`, so at most that many plus one.
  EXPECT_LE(lines, static_cast<std::size_t>(seconds.count()) + 1) << log;
  holder->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(client_limits_test, with_proxy_protocol_the_address_is_the_headers_client) {
  auto server = start_server({"--threads", "2", "--proxy-protocol", "--max-connections-per-ip", "1",
                              "--sink", "none", "--quiet"});
  // Every connection comes from 127.0.0.1, the balancer; the header names the client.
  const auto from = [&server](const std::string& client_address) {
    auto connection = server.connect();
    connection.send_all("PROXY TCP4 " + client_address + " 127.0.0.1 40001 10008\r\n");
    return connection;
  };
  auto first = from("192.0.2.7");
  ASSERT_EQ(first.read_line(k_wait), k_greeting);
  auto second = from("192.0.2.7");
  expect_refused(second, "a second client of 192.0.2.7 behind the balancer");
  auto other = from("192.0.2.8");
  EXPECT_EQ(other.read_line(k_wait), k_greeting);
  other.send_all("hello\n");
  EXPECT_EQ(other.read_line(k_wait), k_ack);
  const auto logged = wait_for_stderr_line(server.process(), "--max-connections-per-ip 1 reached");
  ASSERT_TRUE(logged) << server.process().stderr_so_far();
  EXPECT_NE(logged->find("reached for 192.0.2.7 "), std::string::npos) << *logged;
  const auto counters = live_counters(server);
  EXPECT_EQ(counters.at("refused_per_ip"), 1U);
  EXPECT_EQ(counters.at("proxy_errors"), 0U);
  first.close();
  other.close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(client_limits_test, metrics_count_the_refusals) {
  auto server = start_server({"--threads", "1", "--max-connections-per-ip", "1", "--sink", "none",
                              "--quiet", "--metrics", "127.0.0.1:0"});
  // Announced before the server's own address, so among the lines read at start.
  std::uint16_t port = 0;
  for (const auto& line : server.startup_lines()) {
    if (line.find("metrics: serving") != std::string::npos) {
      port = static_cast<std::uint16_t>(std::stoul(line.substr(line.rfind(':') + 1)));
    }
  }
  ASSERT_NE(port, 0) << server.process().stderr_so_far();
  auto holder = greeted_from(server, "");
  ASSERT_TRUE(holder);
  auto refused = connect_from(server, "");
  ASSERT_EQ(refused.read_line(k_wait), k_refusal);
  auto scrape = socket_client::connect("127.0.0.1", port);
  scrape.send_all("GET /metrics HTTP/1.0\r\n\r\n");
  const auto answer = scrape.read_until_eof(k_wait);
  EXPECT_NE(answer.find("\nringline_connections_refused_per_ip_total 1\n"), std::string::npos)
      << answer;
  holder->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

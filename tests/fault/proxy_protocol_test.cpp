// --proxy-protocol: every connection begins with a PROXY header (v1 or v2), read before the
// greeting. A valid one gets the greeting and its client address in the logs; a missing,
// malformed or slow one is closed without a greeting, logged and counted (proxy_errors=).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::server_process;

/// Returns `values` as bytes.
std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int value : values) {
    out.push_back(static_cast<char>(value));
  }
  return out;
}

/// Returns a v2 header (signature, version and command, family, length, then `body`).
std::string v2_header(int version_command, int family, const std::string& body) {
  return std::string("\r\n\r\n\0\r\nQUIT\n", 12) +
         bytes({version_command, family, static_cast<int>(body.size() >> 8),
                static_cast<int>(body.size() & 0xff)}) +
         body;
}

/// Returns v2 PROXY over TCP/IPv4 from 127.0.0.11:50000 to 127.0.0.1:10008, followed by a
/// NOOP TLV of `padding` bytes (so that a large header arrives in several receives).
std::string v2_proxy_from_127_0_0_11(std::size_t padding = 0) {
  std::string body = bytes({127, 0, 0, 11, 127, 0, 0, 1, 0xc3, 0x50, 0x27, 0x18});
  if (padding > 0) {
    body += bytes({0x04, static_cast<int>(padding >> 8), static_cast<int>(padding & 0xff)});
    body += std::string(padding, 'p');
  }
  return v2_header(0x21, 0x11, body);
}

/// Asks the server for its counters (SIGUSR1) and returns them; empty if no line came.
std::map<std::string, std::uint64_t> live_counters(server_process& server) {
  if (!server.process().send_signal(SIGUSR1)) {
    return {};
  }
  const auto line = wait_for_stderr_line(server.process(), "stats: ");
  return line ? parse_stats(*line) : std::map<std::string, std::uint64_t>{};
}

TEST(proxy_protocol_test, v1_header_with_lines_behind_it_gets_greeting_acks_and_its_address) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  // The first lines travel in the same segment as the header: they must reach the framer.
  client.send_all("PROXY TCP4 192.0.2.7 127.0.0.1 40001 10008\r\nfirst\nsecond\n");
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect 192.0.2.7:40001");
  client.close();
  const auto ended = wait_for_stderr_prefix(server.process(), "disconnect ");
  ASSERT_TRUE(ended) << server.process().stderr_so_far();
  EXPECT_EQ(*ended, "disconnect 192.0.2.7:40001 lines=2 (client closed)");
  EXPECT_EQ(live_counters(server)["proxy_errors"], 0U);
}

TEST(proxy_protocol_test, v1_tcp6_header_logs_the_ipv6_client_in_brackets) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  client.send_all("PROXY TCP6 2001:db8::7 ::1 40001 10008\r\n");
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect [2001:db8::7]:40001");
}

TEST(proxy_protocol_test, v2_header_in_pieces_then_a_line_gets_greeting_and_ack) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  const auto header = v2_proxy_from_127_0_0_11();
  client.send_all(header.substr(0, 10));
  // Nothing may come before the header is whole: no greeting for half a header.
  EXPECT_EQ(client.read_line(200ms), std::nullopt);
  client.send_all(header.substr(10));
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("hello\n");
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect 127.0.0.11:50000");
}

TEST(proxy_protocol_test, v2_header_larger_than_a_receive_with_a_line_behind_it) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  client.send_all(v2_proxy_from_127_0_0_11(3000) + "behind\n");
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect 127.0.0.11:50000");
}

TEST(proxy_protocol_test, health_checks_v2_local_and_v1_unknown_are_greeted_as_the_tcp_peer) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  for (const std::string& header : {v2_header(0x20, 0x00, ""), std::string("PROXY UNKNOWN\r\n")}) {
    auto client = server.connect();
    client.send_all(header);
    EXPECT_EQ(client.read_line(k_wait), k_greeting);
    client.send_all("x\n");
    EXPECT_EQ(client.read_line(k_wait), k_ack);
    const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
    ASSERT_TRUE(connected) << server.process().stderr_so_far();
    EXPECT_EQ(*connected, "connect " + peer_text(client));
  }
}

TEST(proxy_protocol_test, garbage_instead_of_a_header_is_closed_without_greeting_and_counted) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  client.send_all("hello\n");
  EXPECT_EQ(client.read_until_eof(k_wait), "");
  EXPECT_TRUE(client.eof());
  const auto logged = wait_for_stderr_prefix(server.process(), "proxy header from ");
  ASSERT_TRUE(logged) << server.process().stderr_so_far();
  EXPECT_TRUE(logged->starts_with("proxy header from " + peer_text(client) + ": ")) << *logged;
  EXPECT_NE(logged->find("closed without a greeting"), std::string::npos) << *logged;
  // The server lingers (reads and discards) until the client closes too, then ends it.
  client.close();
  std::map<std::string, std::uint64_t> counters;
  for (const test_support::deadline until(k_wait); !until.expired();) {
    counters = live_counters(server);
    if (counters["active"] == 0) {
      break;
    }
  }
  EXPECT_EQ(counters["proxy_errors"], 1U);
  EXPECT_EQ(counters["active"], 0U);
  // No connect line for it: it never became a session of a client.
  EXPECT_EQ(count_of(server.process().stderr_so_far(), " connect "), 0U);
}

TEST(proxy_protocol_test, header_that_never_completes_is_closed_at_the_deadline) {
  // The product's 3 s, shortened for the test (RINGLINE_TEST_PROXY_HEADER_TIME): the timing is
  // the same code either way.
  auto options = server_options({"--proxy-protocol", "--sink", "none"});
  options.env.emplace_back("RINGLINE_TEST_PROXY_HEADER_TIME=300ms");
  auto server = server_process::start(std::move(options), k_wait);
  const auto started = std::chrono::steady_clock::now();
  auto client = server.connect();
  client.send_all("PROXY TCP4 192.0.2.7 ");  // and then nothing
  ASSERT_TRUE(client.wait_for_eof(k_wait)) << server.process().stderr_so_far();
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(client.read_until_eof(1s), "");  // no greeting, nothing at all
  EXPECT_FALSE(client.was_reset());
  // The deadline is counted from the accept; the timer wheel may fire a tick late, never early.
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 10s);
  const auto logged = wait_for_stderr_prefix(server.process(), "proxy header from ");
  ASSERT_TRUE(logged) << server.process().stderr_so_far();
  EXPECT_NE(logged->find("in time"), std::string::npos) << *logged;
  EXPECT_EQ(live_counters(server).at("proxy_errors"), 1U);
}

TEST(proxy_protocol_test, the_header_deadline_is_three_seconds_by_default) {
  // Without the test's override the deadline is the product's: a header 1 s late is still in
  // time (the whole 3 s is not waited out).
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  client.send_all("PROXY TCP4 192.0.2.7 ");
  EXPECT_EQ(client.read_line(1s), std::nullopt);
  EXPECT_FALSE(client.eof());
  client.send_all("127.0.0.1 40001 10008\r\n");
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
}

TEST(proxy_protocol_test, v2_header_longer_than_4096_bytes_is_closed_with_a_fin_not_a_reset) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  // A length of 5,000 is refused as soon as the 16-byte preamble is read, with most of the
  // body still unread: closing then would answer with a reset.
  client.send_all(v2_header(0x21, 0x11, std::string(5000, 'x')));
  EXPECT_EQ(client.read_until_eof(k_wait), "");
  EXPECT_TRUE(client.eof());
  EXPECT_FALSE(client.was_reset());
  const auto logged = wait_for_stderr_prefix(server.process(), "proxy header from ");
  ASSERT_TRUE(logged) << server.process().stderr_so_far();
  EXPECT_NE(logged->find("longer than 4096 bytes"), std::string::npos) << *logged;
  EXPECT_EQ(live_counters(server).at("proxy_errors"), 1U);
}

TEST(proxy_protocol_test, shutdown_closes_a_connection_still_in_its_header_without_greeting) {
  auto server = start_server({"--proxy-protocol", "--sink", "none"});
  auto client = server.connect();
  client.send_all("PROXY TCP4 ");
  // accepted=1: the connection is a session, waiting for the rest of its header, before the
  // signal comes. connect() returns once the kernel has the connection in its backlog, which
  // may be before the server's accept completes, so the counter is read until it says so.
  std::uint64_t accepted = 0;
  for (const test_support::deadline until(k_wait); accepted == 0 && !until.expired();) {
    accepted = live_counters(server).at("accepted");
  }
  ASSERT_EQ(accepted, 1U);
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  ASSERT_TRUE(client.wait_for_eof(k_wait)) << server.process().stderr_so_far();
  EXPECT_EQ(client.read_until_eof(1s), "");  // no greeting, nothing at all
  client.close();
  // The SIGTERM above ends it (a second one would mean "exit now").
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  const auto line = wait_for_stderr_line(server.process(), "stats: ");
  ASSERT_TRUE(line) << server.process().stderr_so_far();
  const auto counters = parse_stats(*line);
  // A shutdown is no fault of the client's: not a PROXY error, and nothing forced.
  EXPECT_EQ(counters.at("proxy_errors"), 0U) << *line;
  EXPECT_EQ(counters.at("forced"), 0U) << *line;
}

TEST(proxy_protocol_test, help_lists_the_flag) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--help"};
  test_support::child_process help(std::move(options));
  const auto out = help.read_stdout_all(k_wait);
  ASSERT_TRUE(out);
  EXPECT_EQ(help.wait_for_exit(k_wait), 0);
  EXPECT_NE(out->find("  --proxy-protocol "), std::string::npos) << *out;
}

TEST(proxy_protocol_test, without_the_flag_a_proxy_line_is_just_a_line) {
  auto server = start_server({"--sink", "none"});
  auto client = server.connect();
  EXPECT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("PROXY TCP4 192.0.2.7 127.0.0.1 40001 10008\r\n");
  EXPECT_EQ(client.read_line(k_wait), k_ack);
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect " + peer_text(client));
}

}  // namespace
}  // namespace ringline::fault

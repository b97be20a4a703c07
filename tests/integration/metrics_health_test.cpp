// --metrics under pressure and at its edges: /health still answered while 1,000 silent
// connections are held, a prompt exit with silent connections open, errors with a FIN for
// what is not a scrape, and /ready's answers (connection limit, draining; the failing sink
// in metrics_test).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/metrics_support.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/socket_client.hpp"

namespace ringline::integration {
namespace {

using namespace std::chrono_literals;
using test_support::socket_client;

// Long enough that no silent connection in these tests ends by its deadline: whatever closes
// one is the endpoint's bound, or its stop.
constexpr auto k_long_deadline = std::chrono::milliseconds(60'000);

// The test process holds a thousand sockets: its soft descriptor limit goes to the hard one.
void raise_descriptor_limit() {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 1100U) << "the test needs 1,100 descriptors";
}

TEST(metrics_health_test, health_is_answered_while_a_thousand_silent_connections_are_held) {
  raise_descriptor_limit();
  auto server = start_with_metrics_deadline(
      {"--sink", "none", "--metrics", "127.0.0.1:0", "--threads", "1"}, k_long_deadline);
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  std::vector<socket_client> silent;
  silent.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    silent.push_back(socket_client::connect("127.0.0.1", port));
  }
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    const auto health = get(port, "/health");
    EXPECT_EQ(health.status_line, "HTTP/1.1 200 OK") << "check " << i;
    EXPECT_EQ(health.body, "ok\n");
  }
  EXPECT_EQ(get(port, "/ready").status_line, "HTTP/1.1 200 OK");
  const auto took = std::chrono::steady_clock::now() - started;
  // The oldest silent ones made room: the server holds at most its bound of them.
  const auto values = samples(get(port, "/metrics").body);
  EXPECT_LT(values.at("process_open_fds"), 200) << "descriptors held for silent connections";
  // Each health check and scrape made room too: at least every silent one beyond the bound.
  EXPECT_GE(values.at("ringline_metrics_evicted_total"), 1000 - 64);
  std::printf(
      "20 health checks with 1,000 silent connections held: %lld ms; server fds: %.0f\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      values.at("process_open_fds"));
  // The first ones were evicted (closed unanswered); the last ones are still held.
  EXPECT_TRUE(silent.front().wait_for_eof(k_wait));
  EXPECT_FALSE(silent.front().was_reset());
  EXPECT_EQ(silent.front().buffered(), "");
  silent.clear();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(metrics_health_test, sixteen_silent_connections_do_not_delay_the_exit) {
  auto server = start_with_metrics_deadline(
      {"--sink", "none", "--metrics", "127.0.0.1:0", "--shutdown-grace", "0"}, k_long_deadline);
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  std::vector<socket_client> silent;
  for (int i = 0; i < 16; ++i) {
    silent.push_back(socket_client::connect("127.0.0.1", port));
  }
  // Accepted in order: once this is answered, all 16 are held by the endpoint.
  ASSERT_EQ(get(port, "/health").status_line, "HTTP/1.1 200 OK");
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
  const auto took = std::chrono::steady_clock::now() - started;
  // Not the endpoint's deadline (60 s here, 2 s by default): nothing waits for them.
  EXPECT_LT(took, 1500ms);
  std::printf(
      "exit with 16 silent metrics connections and --shutdown-grace 0: %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

// Sends `request` raw and returns the status line of the answer, checking it ended with a FIN.
std::string status_of_raw(std::uint16_t port, const std::string& request) {
  auto client = socket_client::connect("127.0.0.1", port);
  client.send_all(request);
  const auto all = client.read_until_eof(k_wait);
  EXPECT_TRUE(client.eof());
  EXPECT_FALSE(client.was_reset()) << "answered with an RST: " << request.substr(0, 40);
  return all.substr(0, all.find("\r\n"));
}

TEST(metrics_health_test, what_is_not_a_scrape_gets_an_error_status_and_a_fin) {
  auto server = start_server_quietly({"--sink", "none", "--metrics", "127.0.0.1:0"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  EXPECT_EQ(
      status_of_raw(port, "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n"),
      "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(status_of_raw(port, "GET /metrics HTTP/1.1garbage\r\n\r\n"),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_of_raw(port, "GET /met rics HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_of_raw(port, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.stop(k_wait), 0);
}

// Scrapes `path` until its status line is `wanted` (bounded); returns the last answer.
http_answer wait_for_status(std::uint16_t port, const std::string& path,
                            const std::string& wanted) {
  http_answer answer;
  for (const test_support::deadline until(k_wait); !until.expired();) {
    answer = get(port, path);
    if (answer.status_line == wanted) {
      break;
    }
  }
  return answer;
}

TEST(metrics_health_test, ready_is_503_while_the_connection_limit_is_reached) {
  auto server = start_server_quietly(
      {"--sink", "none", "--metrics", "127.0.0.1:0", "--max-connections", "2", "--threads", "2"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  EXPECT_EQ(get(port, "/ready").body, "ready\n");
  std::vector<socket_client> admitted;
  for (int i = 0; i < 2; ++i) {
    admitted.push_back(server.connect());
    ASSERT_EQ(admitted.back().read_line(k_wait), k_greeting);
  }
  // The server is alive and well, but a new client would get "not connect".
  const auto full = wait_for_status(port, "/ready", "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(full.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(full.body, "connection limit reached: 2 of 2\n");
  EXPECT_EQ(get(port, "/health").status_line, "HTTP/1.1 200 OK");
  auto refused = server.connect();
  EXPECT_EQ(refused.read_line(k_wait), k_refusal);
  // A slot frees: ready again.
  admitted.front().close();
  const auto again = wait_for_status(port, "/ready", "HTTP/1.1 200 OK");
  EXPECT_EQ(again.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(again.body, "ready\n");
  admitted.clear();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(metrics_health_test, ready_and_health_are_503_while_draining) {
  auto server = start_server_quietly(
      {"--sink", "none", "--metrics", "127.0.0.1:0", "--shutdown-grace", "30s"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  auto held = server.connect();
  ASSERT_EQ(held.read_line(k_wait), k_greeting);
  ASSERT_EQ(get(port, "/ready").status_line, "HTTP/1.1 200 OK");
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  // The session keeps the drain going; the endpoint answers through it.
  const auto ready = wait_for_status(port, "/ready", "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(ready.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(ready.body, "draining\n");
  const auto health = get(port, "/health");
  EXPECT_EQ(health.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(health.body, "draining\n");
  held.close();
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
}

}  // namespace
}  // namespace ringline::integration

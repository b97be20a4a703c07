// --metrics: /metrics after known traffic, checked number by number and by the real
// `promtool check metrics`; /health while serving and while the sink fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "tests/support/deadline.hpp"

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"

namespace ringline::integration {
namespace {

using test_support::socket_client;

// The metrics port, from the startup line "metrics: serving /metrics and /health on H:P".
std::uint16_t metrics_port(test_support::server_process& server) {
  for (const auto& line : server.startup_lines()) {
    const auto message = test_support::log_message(line);
    if (message.starts_with("metrics: serving")) {
      return static_cast<std::uint16_t>(
          std::stoi(std::string(message.substr(message.rfind(':') + 1))));
    }
  }
  ADD_FAILURE() << "no metrics line at start";
  return 0;
}

struct http_answer {
  std::string status_line;
  std::string body;
};

http_answer get(std::uint16_t port, const std::string& path) {
  auto client = socket_client::connect("127.0.0.1", port);
  client.send_all("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
  const auto all = client.read_until_eof(k_wait);
  const auto head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return {};
  }
  return {all.substr(0, all.find("\r\n")), all.substr(head_end + 4)};
}

// name (with labels) -> value, for the samples of a Prometheus text body.
std::map<std::string, double> samples(const std::string& body) {
  std::map<std::string, double> values;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const auto space = line.rfind(' ');
    values[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return values;
}

TEST(metrics_test, counters_after_known_traffic_and_promtool_accepts_them) {
  auto server = start_server_quietly({"--sink", "none", "--metrics", "127.0.0.1:0"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  for (int i = 0; i < 3; ++i) {
    auto client = server.connect();
    ASSERT_EQ(client.read_line(k_wait), k_greeting);
    client.send_all(repeat("line\n", 5));
    for (int j = 0; j < 5; ++j) {
      ASSERT_EQ(client.read_line(k_wait), k_ack);
    }
    client.close();
  }
  auto held = server.connect();
  ASSERT_EQ(held.read_line(k_wait), k_greeting);
  held.send_all("one more\n");
  ASSERT_EQ(held.read_line(k_wait), k_ack);

  // Counters of other threads are read as they are: a session counts its acks right after
  // sending them, and notices a client's close a moment later. So the scrape is repeated
  // (bounded) until it has caught up with what the clients saw.
  http_answer answer;
  std::map<std::string, double> values;
  for (const test_support::deadline until(k_wait); !until.expired();) {
    answer = get(port, "/metrics");
    values = samples(answer.body);
    if (values["ringline_acks_sent_total"] == 16 && values["ringline_connections_active"] == 1) {
      break;
    }
  }
  EXPECT_EQ(answer.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(values.at("ringline_acks_sent_total"), 16);
  EXPECT_EQ(values.at("ringline_lines_received_total"), 16);
  EXPECT_EQ(values.at("ringline_bytes_received_total"), 3 * 25 + 9);
  EXPECT_EQ(values.at("ringline_connections_accepted_total"), 4);
  EXPECT_EQ(values.at("ringline_connections_active"), 1);
  EXPECT_EQ(values.at("ringline_sessions_ended_total{reason=\"line_too_long\"}"), 0);
  EXPECT_EQ(values.at("ringline_draining"), 0);
  EXPECT_EQ(values.at("ringline_sink_failing"), 0);
  double per_thread_acks = 0;
  for (const auto& [name, value] : values) {
    if (name.starts_with("ringline_thread_acks_sent_total{")) {
      per_thread_acks += value;
    }
  }
  EXPECT_EQ(per_thread_acks, 16);

  // The real Prometheus linter, fed the body on stdin.
  const auto checked = run_program({"/usr/bin/promtool", "check", "metrics"}, answer.body, k_wait);
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err << answer.body;

  const auto health = get(port, "/health");
  EXPECT_EQ(health.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(get(port, "/nothing").status_line, "HTTP/1.1 404 Not Found");
  held.close();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(metrics_test, health_is_503_once_the_sink_fails) {
  auto server = start_server_quietly({"--sink", "/dev/full", "--metrics", "127.0.0.1:0"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  EXPECT_EQ(get(port, "/health").status_line, "HTTP/1.1 200 OK");
  auto client = server.connect();
  ASSERT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("lost\n");
  EXPECT_EQ(client.read_line(k_wait), "error: sink failed\n");
  const auto health = get(port, "/health");
  EXPECT_EQ(health.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_TRUE(health.body.starts_with("sink failing: ")) << health.body;
  const auto values = samples(get(port, "/metrics").body);
  EXPECT_EQ(values.at("ringline_sink_failing"), 1);
  EXPECT_EQ(values.at("ringline_sink_failures_total"), 1);
  EXPECT_EQ(values.at("ringline_acks_sent_total"), 0);
  client.close();
  server.stop(k_wait);
}

TEST(metrics_test, a_bad_metrics_address_stops_the_start) {
  // A usage error, like every bad flag (issue 16): exit 2 before anything is opened.
  const auto run = run_program(
      {test_support::server_path(), "--port", "0", "--sink", "none", "--metrics", "no-port-here"},
      "", k_wait);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--metrics: 'no-port-here' is not HOST:PORT"), std::string::npos)
      << run.err;
}

}  // namespace
}  // namespace ringline::integration

// --metrics: /metrics after known traffic, checked number by number and by the real
// `promtool check metrics`, summed over threads; /health and /ready while the sink fails.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/metrics_support.hpp"
#include "tests/support/deadline.hpp"
#include "tests/support/socket_client.hpp"

namespace ringline::integration {
namespace {

using test_support::socket_client;

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
  EXPECT_EQ(values.at("ringline_proxy_errors_total"), 0);

  // The build and the process, as Prometheus clients export them.
  const auto version = run_program({test_support::server_path(), "--version"}, "", k_wait);
  const auto first_line = version.out.substr(0, version.out.find('\n'));
  const auto version_text = first_line.substr(first_line.rfind(' ') + 1);
  // The backend the start-up line names: io_uring, or epoll (RINGLINE_BACKEND=epoll).
  const auto& announcement = server.startup_lines().back();
  const auto backend_at = announcement.find(" backend=");
  ASSERT_NE(backend_at, std::string::npos) << announcement;
  const auto backend = announcement.substr(
      backend_at + 9, announcement.find(' ', backend_at + 1) - (backend_at + 9));
  EXPECT_EQ(values.at(fmt::format("ringline_build_info{{version=\"{}\",backend=\"{}\"}}",
                                  version_text, backend)),
            1)
      << answer.body;
  EXPECT_EQ(values.at(fmt::format("ringline_backend_info{{backend=\"{}\"}}", backend)), 1)
      << answer.body;
  EXPECT_GT(values.at("process_open_fds"), 3);
  EXPECT_LT(values.at("process_open_fds"), 1000);
  EXPECT_GT(values.at("process_max_fds"), 0);
  EXPECT_GT(values.at("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(values.at("process_virtual_memory_bytes"), 1 << 20);
  EXPECT_GE(values.at("process_cpu_seconds_total"), 0);
  // Started during this test (the process is seconds old), by the wall clock.
  const auto now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(values.at("process_start_time_seconds"), now - 60);
  EXPECT_LE(values.at("process_start_time_seconds"), now + 1);

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

TEST(metrics_test, health_and_ready_are_503_once_the_sink_fails) {
  auto server = start_server_quietly({"--sink", "/dev/full", "--metrics", "127.0.0.1:0"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  EXPECT_EQ(get(port, "/health").status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(get(port, "/ready").status_line, "HTTP/1.1 200 OK");
  auto client = server.connect();
  ASSERT_EQ(client.read_line(k_wait), k_greeting);
  client.send_all("lost\n");
  EXPECT_EQ(client.read_line(k_wait), "error: sink failed\n");
  const auto health = get(port, "/health");
  EXPECT_EQ(health.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_TRUE(health.body.starts_with("sink failing: ")) << health.body;
  const auto ready = get(port, "/ready");
  EXPECT_EQ(ready.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(ready.body, health.body);
  const auto values = samples(get(port, "/metrics").body);
  EXPECT_EQ(values.at("ringline_sink_failing"), 1);
  EXPECT_EQ(values.at("ringline_sink_failures_total"), 1);
  EXPECT_EQ(values.at("ringline_acks_sent_total"), 0);
  client.close();
  server.stop(k_wait);
}

// Scrapes until the totals have caught up with `accepted` and `acks` (a thread counts an ack
// right after sending it) or passed them; returns the last scrape.
std::map<std::string, double> scrape_when_caught_up(std::uint16_t port, double accepted,
                                                    double acks) {
  std::map<std::string, double> values;
  for (const test_support::deadline until(k_wait); !until.expired();) {
    values = samples(get(port, "/metrics").body);
    if (values["ringline_connections_accepted_total"] >= accepted &&
        values["ringline_acks_sent_total"] >= acks) {
      break;
    }
  }
  return values;
}

// Every thread's counters reach /metrics, each thread's own: after each new connection (the
// kernel spreads them over the 4 threads' accepts) the totals and the per-thread series add
// up to exactly what the clients did so far. Connection k sends k + 1 lines.
TEST(metrics_test, counters_are_summed_over_every_thread) {
  constexpr int k_clients = 24;
  auto server =
      start_server_quietly({"--sink", "none", "--metrics", "127.0.0.1:0", "--threads", "4"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  std::vector<socket_client> open;
  double lines = 0;
  std::map<std::string, double> values;
  for (int k = 0; k < k_clients; ++k) {
    open.push_back(server.connect());
    auto& client = open.back();
    ASSERT_EQ(client.read_line(k_wait), k_greeting);
    client.send_all(repeat("x\n", static_cast<std::size_t>(k) + 1));
    for (int j = 0; j <= k; ++j) {
      ASSERT_EQ(client.read_line(k_wait), k_ack);
    }
    lines += k + 1;
    // One connection more on one thread, whichever: a total that counts a thread twice, or
    // misses one, is off by its count at once.
    values = scrape_when_caught_up(port, k + 1, lines);
    ASSERT_EQ(values["ringline_connections_accepted_total"], k + 1) << "after connection " << k;
    ASSERT_EQ(values["ringline_acks_sent_total"], lines) << "after connection " << k;
    ASSERT_EQ(sum_of_series(values, "ringline_thread_connections_accepted_total"), k + 1);
    ASSERT_EQ(sum_of_series(values, "ringline_thread_acks_sent_total"), lines);
  }
  EXPECT_EQ(values["ringline_lines_received_total"], lines);
  EXPECT_EQ(values["ringline_connections_active"], k_clients);
  EXPECT_EQ(sum_of_series(values, "ringline_thread_connections_active"), k_clients);
  // Four series, and the kernel spread the connections over more than one thread (else the
  // sums above would prove nothing about adding threads up).
  int threads_used = 0;
  for (int t = 0; t < 4; ++t) {
    const auto name = fmt::format("ringline_thread_connections_accepted_total{{thread=\"{}\"}}", t);
    ASSERT_EQ(values.count(name), 1U) << name;
    threads_used += values[name] > 0 ? 1 : 0;
  }
  EXPECT_GE(threads_used, 2);
  open.clear();
  EXPECT_EQ(server.stop(k_wait), 0);
}

TEST(metrics_test, proxy_errors_are_counted) {
  auto server = start_server_quietly(
      {"--sink", "none", "--metrics", "127.0.0.1:0", "--proxy-protocol", "--threads", "1"});
  const auto port = metrics_port(server);
  ASSERT_NE(port, 0);
  auto client = server.connect();
  client.send_all("hello\n");
  EXPECT_EQ(client.read_until_eof(k_wait), "");
  // The refused connection lingers (its input read and discarded) until the client closes.
  client.close();
  std::map<std::string, double> values;
  for (const test_support::deadline until(k_wait); !until.expired();) {
    values = samples(get(port, "/metrics").body);
    if (values["ringline_proxy_errors_total"] == 1 && values["ringline_connections_active"] == 0) {
      break;
    }
  }
  EXPECT_EQ(values["ringline_proxy_errors_total"], 1);
  EXPECT_EQ(values["ringline_connections_active"], 0);
  EXPECT_EQ(server.stop(k_wait), 0);
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

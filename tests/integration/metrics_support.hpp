#pragma once

// What the --metrics tests share: the endpoint's port from the start-up line, one HTTP
// exchange, and the samples of a Prometheus text body.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"

namespace ringline::integration {

/// The metrics port, from the start-up line "metrics: serving /metrics, /health and /ready on
/// H:P"; 0 (and a test failure) if there is none.
inline std::uint16_t metrics_port(test_support::server_process& server) {
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

/// Starts ringline-server on port 0 with `args` and the metrics endpoint's deadlines set to
/// `deadline` (RINGLINE_TEST_METRICS_DEADLINE_MS), its stdout on /dev/null.
inline test_support::server_process start_with_metrics_deadline(
    std::vector<std::string> args, std::chrono::milliseconds deadline) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--port", "0"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = {"RINGLINE_TEST_METRICS_DEADLINE_MS=" + std::to_string(deadline.count())};
  return test_support::server_process::start(std::move(options), k_wait);
}

/// An HTTP answer: its status line and its body (empty when the connection closed without one).
struct http_answer {
  std::string status_line;
  std::string body;
};

/// Sends `GET path` on a connection of its own and returns the answer.
inline http_answer get(std::uint16_t port, const std::string& path) {
  auto client = test_support::socket_client::connect("127.0.0.1", port);
  client.send_all("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
  const auto all = client.read_until_eof(k_wait);
  const auto head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return {};
  }
  return {all.substr(0, all.find("\r\n")), all.substr(head_end + 4)};
}

/// Returns name (with labels) -> value, for the samples of a Prometheus text body.
inline std::map<std::string, double> samples(const std::string& body) {
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

/// Returns the sum of the samples of `family` with any labels (`family{...}`).
inline double sum_of_series(const std::map<std::string, double>& values,
                            const std::string& family) {
  double sum = 0;
  for (const auto& [name, value] : values) {
    if (name.starts_with(family + "{")) {
      sum += value;
    }
  }
  return sum;
}

}  // namespace ringline::integration

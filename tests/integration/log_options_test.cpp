// --log-format and --log-level on the real server: JSON lines a collector can parse, and a
// level that hides the per-connection lines while errors still get through.
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/json_line.hpp"
#include "tests/support/notify_socket.hpp"

namespace ringline::integration {
namespace {

using test_support::child_options;
using test_support::child_process;
using test_support::parse_flat_json_object;
using test_support::server_path;
using test_support::stdio_mode;

/// Returns true if `time` is an RFC 3339 UTC time with milliseconds: 2026-11-30T16:30:23.123Z.
bool is_log_time(const std::string& time) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (time.size() != shape.size()) {
    return false;
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = time[i] >= '0' && time[i] <= '9';
    if (shape[i] == 'd' ? !digit : time[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

TEST(log_options_test, json_format_writes_one_object_per_line_with_fields) {
  auto server = start_server_quietly({"--log-format", "json"});
  {
    auto client = server.connect();
    ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
    client.send_all("a\nb\n");
    ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
    ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
  }
  ASSERT_TRUE(wait_for_stderr_line(server.process(), R"("event":"disconnect")"))
      << server.process().stderr_so_far();
  ASSERT_EQ(server.stop(), 0);
  const auto lines = split_lines(server.process().stderr_so_far());
  ASSERT_GE(lines.size(), 4U);  // start, connect, disconnect, shutdown, stats
  std::optional<std::map<std::string, std::string>> connect;
  std::optional<std::map<std::string, std::string>> disconnect;
  std::string disconnect_line;
  for (const auto& line : lines) {
    const auto members = parse_flat_json_object(line);
    ASSERT_TRUE(members) << "not a JSON object: " << line;
    ASSERT_TRUE(members->contains("time") && members->contains("level") &&
                members->contains("message"))
        << line;
    EXPECT_TRUE(is_log_time(members->at("time"))) << line;
    EXPECT_TRUE(members->at("level") == "info" || members->at("level") == "warn" ||
                members->at("level") == "error")
        << line;
    EXPECT_FALSE(members->at("message").empty()) << line;
    const auto event = members->find("event");
    if (event != members->end() && event->second == "connect") {
      connect = members;
    } else if (event != members->end() && event->second == "disconnect") {
      disconnect = members;
      disconnect_line = line;
    }
  }
  ASSERT_TRUE(connect);
  ASSERT_TRUE(disconnect);
  EXPECT_TRUE(connect->at("peer").starts_with("127.0.0.1:")) << connect->at("peer");
  EXPECT_EQ(disconnect->at("peer"), connect->at("peer"));
  EXPECT_EQ(disconnect->at("lines"), "2");
  // A decimal field is a JSON number, without quotes.
  EXPECT_NE(disconnect_line.find(R"("lines":2)"), std::string::npos) << disconnect_line;
  EXPECT_FALSE(disconnect->at("reason").empty());
}

TEST(log_options_test, warn_level_hides_connects_and_other_info_lines) {
  // No "listening on" line at this level: the port comes from READY=1's STATUS instead.
  test_support::notify_socket manager;
  child_options options;
  options.argv = {server_path(), "--port", "0", "--sink", "none", "--log-level", "warn"};
  test_support::apply_test_threads(options.argv);
  options.env = {manager.env()};
  options.stdout_mode = stdio_mode::null;
  child_process server(std::move(options));
  const auto ready = manager.wait_for("READY=1", k_wait);
  ASSERT_TRUE(ready) << server.stderr_so_far();
  const auto address =
      test_support::parse_listening_line(test_support::notify_value(*ready, "STATUS").value_or(""));
  ASSERT_TRUE(address) << *ready;
  {
    auto client = test_support::socket_client::connect(address->host, address->port);
    ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
    client.send_all("a\n");
    ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
  }
  ASSERT_TRUE(server.send_signal(SIGTERM));
  ASSERT_EQ(server.wait_for_exit(k_wait), 0);
  const auto log = server.stderr_so_far();
  EXPECT_EQ(log.find("connect"), std::string::npos) << log;
  EXPECT_EQ(log.find("listening on"), std::string::npos) << log;
  EXPECT_EQ(log.find(" info "), std::string::npos) << log;
}

TEST(log_options_test, error_level_still_says_why_the_server_cannot_start) {
  const auto run = run_program({server_path(), "--port", "0", "--log-level", "error", "--sink",
                                "/nonexistent-ringline-dir/lines.log"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(" error "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("/nonexistent-ringline-dir/lines.log"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace ringline::integration

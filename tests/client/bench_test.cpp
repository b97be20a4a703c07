// ringline-client bench against the real ringline-server, and against a fake server whose
// replies are wrong.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::integration {
namespace {

using test_support::unique_fd;

/// Returns the number after `"key":` in a one-line JSON object; fails the test if missing.
double json_number(const std::string& json, std::string_view key) {
  const auto needle = fmt::format("\"{}\":", key);
  const auto at = json.find(needle);
  if (at == std::string::npos) {
    ADD_FAILURE() << key << " missing from " << json;
    return -1;
  }
  return std::strtod(json.c_str() + at + needle.size(), nullptr);
}

program_run run_bench(const test_support::server_process& server, std::vector<std::string> flags) {
  std::vector<std::string> args = {"bench", "--host", server.host(), "--port",
                                   std::to_string(server.port())};
  args.insert(args.end(), flags.begin(), flags.end());
  return run_client(std::move(args));
}

void expect_clean_run_of_2000_lines(const program_run& run) {
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "one line of JSON: " << run.out;
  EXPECT_EQ(json_number(run.out, "lines"), 2000);
  EXPECT_EQ(json_number(run.out, "errors"), 0);
  EXPECT_EQ(json_number(run.out, "unexpected"), 0);
  const auto p50 = json_number(run.out, "p50_us");
  const auto p99 = json_number(run.out, "p99_us");
  const auto max = json_number(run.out, "max_us");
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, max);
  EXPECT_GT(json_number(run.out, "lines_per_second"), 0);
  EXPECT_GT(json_number(run.out, "seconds"), 0);
  for (const char* key : {"mb_per_second", "p90_us", "p999_us"}) {
    EXPECT_GE(json_number(run.out, key), 0) << key;
  }
}

TEST(bench_test, answers_exactly_the_requested_lines_from_a_ringline_server) {
  auto server = start_server_quietly({"--sink", "none", "--quiet"});
  const auto run =
      run_bench(server, {"--connections", "4", "--pipeline", "8", "--lines", "2000", "--json"});
  expect_clean_run_of_2000_lines(run);
}

TEST(bench_test, splits_connections_across_threads) {
  auto server = start_server_quietly({"--sink", "none", "--quiet"});
  const auto run = run_bench(server, {"--connections", "5", "--pipeline", "8", "--lines", "2000",
                                      "--threads", "2", "--json"});
  expect_clean_run_of_2000_lines(run);
}

TEST(bench_test, reconnects_after_the_lines_per_connection) {
  auto server = start_server_quietly({"--sink", "none", "--quiet"});
  // One connection at a time: exactly one connection per 10 lines, each greeted again.
  const auto run = run_bench(
      server, {"--connections", "1", "--lines", "30", "--lines-per-connection", "10", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(json_number(run.out, "lines"), 30);
  EXPECT_EQ(json_number(run.out, "connections"), 3);
  EXPECT_EQ(json_number(run.out, "errors"), 0);
  EXPECT_EQ(json_number(run.out, "unexpected"), 0);
}

TEST(bench_test, a_timed_storm_counts_one_connection_per_line) {
  auto server = start_server_quietly({"--sink", "none", "--quiet"});
  const auto run = run_bench(server, {"--connections", "4", "--pipeline", "2", "--duration",
                                      "300ms", "--lines-per-connection", "1", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto connections = json_number(run.out, "connections");
  EXPECT_GT(connections, 4) << run.out;
  // A pipeline deeper than the connection's share sends only that share.
  EXPECT_EQ(json_number(run.out, "lines"), connections) << run.out;
  EXPECT_GT(json_number(run.out, "connections_per_second"), 0) << run.out;
  EXPECT_EQ(json_number(run.out, "errors"), 0);
  EXPECT_EQ(json_number(run.out, "unexpected"), 0);
}

TEST(bench_test, prints_a_table_without_json) {
  auto server = start_server_quietly({"--sink", "none", "--quiet"});
  const auto run = run_bench(server, {"--connections", "2", "--lines", "100", "--crlf"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("lines       100 in "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("p99"), std::string::npos) << run.out;
}

TEST(bench_test, counts_a_refused_connection_as_an_error) {
  // Bound but never listening: connecting is refused.
  const unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto run = run_client({"bench", "--port", std::to_string(ntohs(address.sin_port)),
                               "--connections", "2", "--lines", "10", "--json"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(json_number(run.out, "errors"), 2);
  EXPECT_EQ(json_number(run.out, "lines"), 0);
}

TEST(bench_test, counts_wrong_replies_as_unexpected_and_fails) {
  // A fake server that greets like ringline but answers every line with something else.
  const unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);

  test_support::child_options options;
  options.argv = {test_support::client_path(),
                  "bench",
                  "--port",
                  std::to_string(ntohs(address.sin_port)),
                  "--connections",
                  "1",
                  "--pipeline",
                  "2",
                  "--lines",
                  "6",
                  "--json"};
  test_support::child_process client(std::move(options));

  pollfd ready{listener.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&ready, 1, static_cast<int>(k_wait.count())), 1) << "no connection";
  test_support::socket_client connection(
      unique_fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC)));
  connection.send_all(std::string(k_greeting));
  for (int i = 0; i < 6; ++i) {
    const auto line = connection.read_line(k_wait);
    ASSERT_TRUE(line.has_value()) << "request " << i;
    // A truncated ack, then one that goes wrong part way.
    connection.send_all(i % 2 == 0 ? "Thank you client\n"
                                   : "Thank you client , you data is NOT received\n");
  }
  EXPECT_EQ(client.wait_for_exit(k_wait), 1) << client.stderr_so_far();
  const auto json = client.stdout_so_far();
  EXPECT_EQ(json_number(json, "lines"), 6);
  EXPECT_EQ(json_number(json, "unexpected"), 6);
  EXPECT_EQ(json_number(json, "errors"), 0);
}

}  // namespace
}  // namespace ringline::integration

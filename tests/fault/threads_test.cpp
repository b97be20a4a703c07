// --threads N: several event loops share one listening socket, one connection limit, one
// sink and one set of counters. Real ringline-server processes, real sockets: every ack in
// order, every line in the sink exactly once and whole, per-client order kept, one limit.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::socket_client;
using test_support::temp_dir;

/// The line client `client` sends as its `index`th: distinct across all clients.
std::string line_of(std::size_t client, std::size_t index) {
  return fmt::format("c{}-{}", client, index);
}

/// Waits for the server's exit after SIGTERM and returns its final counters.
std::map<std::string, std::uint64_t> stop_and_read_stats(test_support::server_process& server) {
  EXPECT_TRUE(server.process().send_signal(SIGTERM));
  auto line = wait_for_stderr_prefix(server.process(), "stats: ");
  EXPECT_TRUE(line) << server.process().stderr_so_far();
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
  return line ? parse_stats(*line) : std::map<std::string, std::uint64_t>{};
}

/// Checks that `content` holds, for each of `clients` clients, lines 0..lines_each-1 in order,
/// each exactly once and whole, and nothing else.
void expect_every_line_once_in_order(const std::string& content, std::size_t clients,
                                     std::size_t lines_each) {
  std::vector<std::size_t> next(clients, 0);
  std::size_t bad = 0;
  for (const auto& line : split_lines(content)) {
    std::size_t client = 0;
    std::size_t index = 0;
    if (std::sscanf(line.c_str(), "c%zu-%zu", &client, &index) != 2 || client >= clients ||
        line != line_of(client, index) || index != next[client]) {
      if (++bad <= 5) {
        ADD_FAILURE() << "unexpected sink line '" << line << "'";
      }
      continue;
    }
    ++next[client];
  }
  EXPECT_EQ(bad, 0U);
  for (std::size_t client = 0; client < clients; ++client) {
    EXPECT_EQ(next[client], lines_each) << "client " << client;
  }
}

/// Connects, reads the greeting, pipelines all its lines at once, then reads every ack;
/// returns the acks received in order.
std::size_t pipeline_all(const test_support::server_process& server, std::size_t client,
                         std::size_t lines) {
  auto connection = connect_greeted(server);
  if (!connection) {
    return 0;
  }
  std::string batch;
  for (std::size_t i = 0; i < lines; ++i) {
    batch += line_of(client, i);
    batch += '\n';
  }
  if (connection->try_send_all(batch)) {
    return 0;
  }
  std::size_t acked = 0;
  while (acked < lines && connection->read_line(k_wait) == k_ack) {
    ++acked;
  }
  return acked;
}

TEST(threads_test, two_hundred_pipelining_clients_on_four_threads_lose_nothing) {
  constexpr std::size_t k_clients = 200;
  constexpr std::size_t k_lines = 1000;
  temp_dir dir;
  const auto path = dir.file("lines.log");
  auto server = start_server({"--threads", "4", "--sink", path.string(), "--quiet"});
  EXPECT_TRUE(server.startup_lines().back().find("threads=4") != std::string::npos)
      << server.startup_lines().back();
  std::vector<std::size_t> acked(k_clients, 0);
  std::vector<std::thread> clients;
  clients.reserve(k_clients);
  for (std::size_t c = 0; c < k_clients; ++c) {
    clients.emplace_back([&, c] { acked[c] = pipeline_all(server, c, k_lines); });
  }
  for (auto& each : clients) {
    each.join();
  }
  for (std::size_t c = 0; c < k_clients; ++c) {
    EXPECT_EQ(acked[c], k_lines) << "client " << c;
  }
  const auto counters = stop_and_read_stats(server);
  EXPECT_EQ(counters.at("lines"), k_clients * k_lines);
  EXPECT_EQ(counters.at("accepted"), k_clients);
  EXPECT_EQ(counters.at("active"), 0U);
  expect_every_line_once_in_order(read_file(path), k_clients, k_lines);
}

TEST(threads_test, max_connections_is_one_limit_across_threads) {
  auto server =
      start_server({"--threads", "4", "--max-connections", "3", "--sink", "none", "--quiet"});
  std::vector<socket_client> admitted;
  for (int i = 0; i < 3; ++i) {
    auto client = connect_greeted(server);
    ASSERT_TRUE(client) << "client " << i << " was not greeted";
    admitted.push_back(std::move(*client));
  }
  // Whichever thread accepts them, every further client is over the one limit.
  for (int i = 0; i < 8; ++i) {
    auto extra = server.connect();
    EXPECT_EQ(extra.read_line(k_wait), k_refusal) << "extra client " << i;
  }
  // A slot freed on one thread is free for all.
  admitted.front().shutdown_write();
  EXPECT_TRUE(admitted.front().wait_for_eof(k_wait));
  admitted.erase(admitted.begin());
  bool greeted = false;
  for (int attempt = 0; attempt < 100 && !greeted; ++attempt) {
    auto again = server.connect();
    const auto reply = again.read_line(k_wait);
    greeted = reply == k_greeting;  // the server may not have counted the end yet: retry
  }
  EXPECT_TRUE(greeted);
  admitted.clear();
  const auto counters = stop_and_read_stats(server);
  EXPECT_GE(counters.at("refused"), 8U);
}

TEST(threads_test, sigusr1_prints_the_sum_over_threads) {
  constexpr std::size_t k_clients = 16;
  constexpr std::size_t k_lines = 5;
  auto server = start_server({"--threads", "4", "--sink", "none", "--quiet"});
  std::vector<socket_client> open;
  for (std::size_t c = 0; c < k_clients; ++c) {
    auto client = connect_greeted(server);
    ASSERT_TRUE(client);
    std::string batch;
    for (std::size_t i = 0; i < k_lines; ++i) {
      batch += line_of(c, i) + "\n";
    }
    client->send_all(batch);
    for (std::size_t i = 0; i < k_lines; ++i) {
      ASSERT_EQ(client->read_line(k_wait), k_ack);
    }
    open.push_back(std::move(*client));
  }
  ASSERT_TRUE(server.process().send_signal(SIGUSR1));
  const auto line = wait_for_stderr_prefix(server.process(), "stats: ");
  ASSERT_TRUE(line);
  const auto counters = parse_stats(*line);
  EXPECT_EQ(counters.at("accepted"), k_clients);
  EXPECT_EQ(counters.at("active"), k_clients);
  EXPECT_EQ(counters.at("lines"), k_clients * k_lines);
  open.clear();
  const auto final_counters = stop_and_read_stats(server);
  EXPECT_EQ(final_counters.at("lines"), k_clients * k_lines);
  EXPECT_EQ(final_counters.at("active"), 0U);
}

TEST(threads_test, durable_sink_acks_lines_of_every_thread_once_on_disk) {
  constexpr std::size_t k_clients = 24;
  constexpr std::size_t k_lines = 200;
  temp_dir dir;
  const auto path = dir.file("durable.log");
  auto server = start_server({"--threads", "4", "--sink", path.string(), "--durable", "--quiet"});
  std::vector<std::size_t> acked(k_clients, 0);
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < k_clients; ++c) {
    clients.emplace_back([&, c] { acked[c] = pipeline_all(server, c, k_lines); });
  }
  for (auto& each : clients) {
    each.join();
  }
  for (std::size_t c = 0; c < k_clients; ++c) {
    EXPECT_EQ(acked[c], k_lines) << "client " << c;
  }
  // Acked means flushed: the file holds them all before the server is even asked to stop.
  expect_every_line_once_in_order(read_file(path), k_clients, k_lines);
  EXPECT_EQ(stop_and_read_stats(server).at("lines"), k_clients * k_lines);
}

/// Pipelines lines in a window until the server closes; returns the acks it got.
std::size_t pipeline_until_closed(const test_support::server_process& server, std::size_t client,
                                  std::atomic<int>& streaming) {
  auto connection = connect_greeted(server);
  if (!connection) {
    return 0;
  }
  constexpr std::size_t k_window = 64;
  std::size_t sent = 0;
  std::size_t acked = 0;
  bool counted = false;
  for (;;) {
    std::string batch;
    while (sent - acked < k_window) {
      batch += line_of(client, sent++) + "\n";
    }
    if (connection->try_send_all(batch)) {
      break;  // the server stopped reading and closed
    }
    if (connection->read_line(k_wait) != k_ack) {
      break;
    }
    ++acked;
    if (!counted && acked >= 100) {
      counted = true;
      ++streaming;
    }
  }
  while (connection->read_line(k_wait) == k_ack) {
    ++acked;
  }
  if (!counted) {
    ++streaming;
  }
  return acked;
}

TEST(threads_test, graceful_shutdown_under_load_acks_exactly_what_the_sink_holds) {
  constexpr std::size_t k_clients = 24;
  temp_dir dir;
  const auto path = dir.file("lines.log");
  auto server = start_server(
      {"--threads", "4", "--sink", path.string(), "--quiet", "--shutdown-grace", "20s"});
  std::atomic<int> streaming{0};
  std::vector<std::size_t> acked(k_clients, 0);
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < k_clients; ++c) {
    clients.emplace_back([&, c] { acked[c] = pipeline_until_closed(server, c, streaming); });
  }
  // Mid-flow: every client has had 100 acks (or given up) before the signal.
  const test_support::deadline until(k_wait);
  while (streaming.load() < static_cast<int>(k_clients) && !until.expired()) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  for (auto& each : clients) {
    each.join();
  }
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
  std::vector<std::size_t> in_sink(k_clients, 0);
  for (const auto& line : split_lines(read_file(path))) {
    std::size_t client = 0;
    std::size_t index = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "c%zu-%zu", &client, &index), 2) << line;
    ASSERT_LT(client, k_clients);
    EXPECT_EQ(index, in_sink[client]) << "client " << client << " out of order";
    ++in_sink[client];
  }
  for (std::size_t c = 0; c < k_clients; ++c) {
    EXPECT_GE(acked[c], 100U) << "client " << c;
    EXPECT_EQ(acked[c], in_sink[c]) << "client " << c;
  }
}

}  // namespace
}  // namespace ringline::fault

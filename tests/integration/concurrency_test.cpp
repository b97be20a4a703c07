// Many concurrent raw clients against one real ringline-server, driven from one thread by a
// poll() loop, so the test holds one descriptor per client and no threads.

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::deadline;
using test_support::server_process;
using test_support::socket_client;
using test_support::temp_dir;

constexpr int k_clients = 200;
constexpr int k_lines_per_client = 100;

/// One pipelining client: what it must send, how far it got, and what it received.
struct client_state {
  socket_client connection;
  std::string payload;
  std::size_t sent = 0;
  std::string received;
};

/// Returns the lines client `id` sends: "c<id>-l<n>\n" for n in [0, lines).
std::string payload_of(int id, int lines) {
  std::string payload;
  for (int n = 0; n < lines; ++n) {
    payload += fmt::format("c{}-l{}\n", id, n);
  }
  return payload;
}

/// Drives every client at once: sends its payload as the socket takes it, half-closes after
/// the last byte, and reads until the server closes. `after_first_round` runs once, after
/// the first poll round, while every client is mid-stream. Returns false at the deadline.
bool run_all(std::vector<client_state>& clients, const std::function<void()>& after_first_round) {
  const deadline until(k_wait * 2);
  std::vector<pollfd> fds(clients.size());
  for (int round = 0; round < 1'000'000; ++round) {
    std::size_t open = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& client = clients[i];
      short events = 0;
      if (!client.connection.eof()) {
        events = POLLIN;
        ++open;
      }
      if (client.sent < client.payload.size()) {
        events = static_cast<short>(events | POLLOUT);
      }
      // A negative descriptor is ignored by poll(), which keeps indexes aligned.
      fds[i] = {events != 0 ? client.connection.fd() : -1, events, 0};
    }
    if (open == 0) {
      return true;
    }
    if (until.expired()) {
      return false;
    }
    if (::poll(fds.data(), fds.size(), until.poll_ms()) < 0 && errno != EINTR) {
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      return false;
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto& client = clients[i];
      if ((fds[i].revents & POLLOUT) != 0) {
        client.sent +=
            client.connection.send_some(std::string_view(client.payload).substr(client.sent), 0ms);
        if (client.sent == client.payload.size()) {
          client.connection.shutdown_write();
        }
      }
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        client.received += client.connection.read_until_eof(0ms);
      }
    }
    if (round == 0 && after_first_round) {
      after_first_round();
    }
  }
  return false;
}

/// Parses "c<id>-l<n>"; returns false if `line` has another shape.
bool parse_line(std::string_view line, int& id, int& n) {
  if (!line.starts_with('c')) {
    return false;
  }
  const auto dash = line.find("-l");
  if (dash == std::string_view::npos) {
    return false;
  }
  const auto* id_end = line.data() + dash;
  const auto* end = line.data() + line.size();
  const auto [p1, e1] = std::from_chars(line.data() + 1, id_end, id);
  const auto [p2, e2] = std::from_chars(id_end + 2, end, n);
  return e1 == std::errc{} && p1 == id_end && e2 == std::errc{} && p2 == end;
}

/// Checks that `sink` holds exactly `lines` lines of each client in `ids`, every client's lines
/// in its own order, and no other line except those accepted by `ignore`.
void expect_sink_holds_every_client_in_order(
    std::string_view sink, const std::vector<int>& ids, int lines,
    const std::function<bool(std::string_view)>& ignore = {}) {
  std::map<int, int> next;
  for (const int id : ids) {
    next[id] = 0;
  }
  int bad = 0;
  for (const auto& line : split_lines(sink)) {
    if (ignore && ignore(line)) {
      continue;
    }
    int id = -1;
    int n = -1;
    const auto expected = parse_line(line, id, n) ? next.find(id) : next.end();
    if (expected == next.end() || expected->second != n) {
      if (++bad <= 10) {
        ADD_FAILURE() << "unexpected sink line '" << line << "'";
      }
      continue;
    }
    ++expected->second;
  }
  EXPECT_EQ(bad, 0);
  for (const auto& [id, count] : next) {
    EXPECT_EQ(count, lines) << "client " << id;
  }
}

class concurrency_test : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path sink_path() const { return m_dir.file("sink.txt"); }

  server_process start() {
    return start_server({"--sink", sink_path().string(), "--quiet"}, m_dir.file("stdout.txt"));
  }

  /// Connects `count` clients with ids [first, first + count), all before any sends.
  static std::vector<client_state> connect_clients(const server_process& server, int first,
                                                   int count) {
    std::vector<client_state> clients;
    clients.reserve(static_cast<std::size_t>(count));
    for (int id = first; id < first + count; ++id) {
      clients.push_back({server.connect(), payload_of(id, k_lines_per_client), 0, {}});
    }
    return clients;
  }

  /// Expects that every client got the greeting and one ack per line, then a clean EOF.
  static void expect_all_acked(const std::vector<client_state>& clients) {
    const std::string expected = std::string(k_greeting) + repeat(k_ack, k_lines_per_client);
    int bad = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const auto& client = clients[i];
      if (client.received != expected || !client.connection.eof() ||
          client.connection.was_reset()) {
        if (++bad <= 10) {
          ADD_FAILURE() << "client " << i << ": sent " << client.sent << " bytes, received "
                        << client.received.size() << " of " << expected.size()
                        << " bytes, eof=" << client.connection.eof()
                        << " reset=" << client.connection.was_reset();
        }
      }
    }
    EXPECT_EQ(bad, 0);
  }

  temp_dir m_dir;
};

TEST_F(concurrency_test, two_hundred_pipelining_clients_get_every_ack_in_order) {
  auto server = start();
  auto clients = connect_clients(server, 0, k_clients);

  ASSERT_TRUE(run_all(clients, {})) << "clients did not finish in time";

  expect_all_acked(clients);
  ASSERT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  const auto sink = read_file(sink_path());
  EXPECT_EQ(split_lines(sink).size(), std::size_t{k_clients} * k_lines_per_client);
  std::vector<int> ids;
  for (int id = 0; id < k_clients; ++id) {
    ids.push_back(id);
  }
  expect_sink_holds_every_client_in_order(sink, ids, k_lines_per_client);
}

TEST_F(concurrency_test, a_client_reset_mid_line_does_not_disturb_the_others) {
  auto server = start();
  auto clients = connect_clients(server, 0, 50);

  // The rude client has one line acked and half a line in flight when it resets.
  auto rude = server.connect();
  ASSERT_EQ(rude.read_line(k_wait), k_greeting);
  rude.send_all("rude-complete\n");
  ASSERT_EQ(rude.read_line(k_wait), k_ack);
  rude.send_all("rude-half a li");

  ASSERT_TRUE(run_all(clients, [&rude] { rude.reset(); })) << "clients did not finish in time";

  expect_all_acked(clients);

  // The server still serves new clients after the reset.
  auto later = server.connect();
  EXPECT_EQ(later.read_line(k_wait), k_greeting);
  later.send_all("later\n");
  later.shutdown_write();
  EXPECT_EQ(later.read_until_eof(k_wait), k_ack);

  ASSERT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  const auto sink = read_file(sink_path());
  std::vector<int> ids;
  for (int id = 0; id < 50; ++id) {
    ids.push_back(id);
  }
  int rude_complete = 0;
  int later_lines = 0;
  expect_sink_holds_every_client_in_order(sink, ids, k_lines_per_client,
                                          [&](std::string_view line) {
                                            rude_complete += line == "rude-complete";
                                            later_lines += line == "later";
                                            return line == "rude-complete" || line == "later";
                                          });
  EXPECT_EQ(rude_complete, 1);
  EXPECT_EQ(later_lines, 1);
  EXPECT_EQ(sink.find("rude-half"), std::string::npos);
}

}  // namespace
}  // namespace ringline::integration

// ringline behind the real HAProxy (Debian's haproxy), with the configuration of
// docs/operations.md ("Behind HAProxy"), read from the document, only its ports replaced, and
// run under the 1024 descriptors a shell gets by default: TCP mode, two ringline-server
// --proxy-protocol instances, round robin, once as written (send-proxy, v1) and once with
// send-proxy-v2, as the document says works the same. Clients come from their own loopback
// addresses (127.0.0.11, .12, ...), and the servers must log those, not HAProxy's.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/notify_socket.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::child_process;
using test_support::socket_client;
using test_support::unique_fd;

constexpr int k_clients = 4;

/// Returns true if `haproxy` is found in PATH.
bool have_haproxy() {
  return run_program({"sh", "-c", "command -v haproxy"}).exit_code == 0;
}

/// Connects to 127.0.0.1:`port` from `source` (another loopback address, any port); throws
/// std::system_error.
socket_client connect_from(const std::string& source, std::uint16_t port) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    throw std::system_error(errno, std::system_category(), "connect from " + source);
  }
  return socket_client(std::move(fd));
}

/// Replaces every `from` in `text` by `to`; returns how many it replaced.
int replace_all(std::string& text, std::string_view from, std::string_view to) {
  int count = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
    ++count;
  }
  return count;
}

/// Replaces every ":`from`" in `text` by ":`to`"; returns how many it replaced.
int replace_port(std::string& text, std::string_view from, std::uint16_t to) {
  return replace_all(text, fmt::format(":{}", from), fmt::format(":{}", to));
}

/// Returns the HAProxy configuration of docs/operations.md (the first code block under "Behind
/// HAProxy") with its ports replaced: 10008 (HAProxy's) by `port`, 10018 and 10019 (the
/// servers') by theirs. Empty if the document has no such block.
std::string documented_config(std::uint16_t port, std::uint16_t s1, std::uint16_t s2) {
  const auto doc = read_file(test_support::source_dir() + "/docs/operations.md");
  const auto section = doc.find("\n## Behind HAProxy\n");
  const auto open = doc.find("\n```\n", section);
  const auto close = doc.find("\n```\n", open + 1);
  if (section == std::string::npos || open == std::string::npos || close == std::string::npos) {
    return {};
  }
  auto config = doc.substr(open + 5, close - open - 4);
  if (replace_port(config, "10008", port) == 0 || replace_port(config, "10018", s1) == 0 ||
      replace_port(config, "10019", s2) == 0) {
    return {};
  }
  return config;
}

/// HAProxy started on the documented configuration, and the first client connected through it.
struct haproxy_run {
  child_process haproxy;
  std::uint16_t port;
  socket_client first_client;
};

/// Starts HAProxy with `config_for(port)` at a free port, under the descriptor limit of a
/// default shell (1024), and connects a first client from `source` once it listens. A port
/// taken between picking and binding ends HAProxy: then another port is tried.
haproxy_run start_haproxy(const std::function<std::string(std::uint16_t)>& config_for,
                          const std::filesystem::path& config, const std::string& source) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto port = test_support::pick_free_port();
    write_file(config, config_for(port));
    test_support::child_options options;
    options.argv = {"haproxy", "-f", config.string(), "-db"};
    options.nofile_limit = 1024;
    child_process haproxy(std::move(options));
    // Until it listens (a refused connect), or until it exits: each wait ends early if it does.
    for (int tries = 0; tries < 200; ++tries) {
      try {
        auto client = connect_from(source, port);
        return {std::move(haproxy), port, std::move(client)};
      } catch (const std::system_error& error) {
        if (error.code().value() != ECONNREFUSED) {
          throw;
        }
      }
      if (haproxy.wait_for_exit(std::chrono::milliseconds(25))) {
        break;  // it could not start on this port
      }
    }
    if (!haproxy.exit_code()) {
      throw std::runtime_error("haproxy did not listen within 5 s: " + haproxy.stderr_so_far());
    }
  }
  throw std::runtime_error("haproxy could not start on 5 free ports");
}

/// Starts two servers and HAProxy in front of them, has k_clients clients from 127.0.0.11,
/// .12, ... hold a conversation through it, stops everything and checks what each saw.
void converse_through_haproxy(const std::string& send_proxy) {
  const test_support::temp_dir dir;
  auto s1 = start_server_quietly(
      {"--host", "127.0.0.1", "--proxy-protocol", "--sink", dir.file("s1.log").string()});
  auto s2 = start_server_quietly(
      {"--host", "127.0.0.1", "--proxy-protocol", "--sink", dir.file("s2.log").string()});
  std::vector<socket_client> clients;
  std::vector<std::string> sources{"127.0.0.11"};
  auto run = start_haproxy(
      [&](std::uint16_t port) {
        auto config = documented_config(port, s1.port(), s2.port());
        if (send_proxy != "send-proxy") {
          replace_all(config, " send-proxy\n", " " + send_proxy + "\n");
        }
        return config;
      },
      dir.file("haproxy.cfg"), sources.front());
  auto& haproxy = run.haproxy;
  clients.push_back(std::move(run.first_client));
  for (int i = 1; i < k_clients; ++i) {
    sources.push_back(fmt::format("127.0.0.{}", 11 + i));
    clients.push_back(connect_from(sources.back(), run.port));
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    auto& client = clients[i];
    ASSERT_EQ(client.read_line(k_wait), k_greeting)
        << sources[i] << "\n"
        << haproxy.stderr_so_far() << s1.process().stderr_so_far() << s2.process().stderr_so_far();
    client.send_all(fmt::format("from {}\nagain from {}\n", sources[i], sources[i]));
    EXPECT_EQ(client.read_line(k_wait), k_ack);
    EXPECT_EQ(client.read_line(k_wait), k_ack);
  }
  std::vector<std::string> peers;
  for (auto& client : clients) {
    peers.push_back(fmt::format("127.0.0.{}:{}", 11 + peers.size(), client.local_port()));
    client.shutdown_write();
    EXPECT_TRUE(client.wait_for_eof(k_wait));
  }

  EXPECT_TRUE(haproxy.send_signal(SIGTERM));
  EXPECT_TRUE(haproxy.wait_for_exit(k_wait).has_value());
  EXPECT_EQ(s1.stop(k_wait), 0);
  EXPECT_EQ(s2.stop(k_wait), 0);
  const auto log1 = s1.process().stderr_so_far();
  const auto log2 = s2.process().stderr_so_far();
  // Round robin: both instances served clients.
  EXPECT_GE(count_of(log1, " connect 127.0.0.1"), 1U) << log1;
  EXPECT_GE(count_of(log2, " connect 127.0.0.1"), 1U) << log2;
  // Each client is logged with its own address and port, by exactly one server.
  for (const auto& peer : peers) {
    EXPECT_EQ(count_of(log1, " connect " + peer + "\n") + count_of(log2, " connect " + peer + "\n"),
              1U)
        << peer << "\n"
        << log1 << log2;
    EXPECT_EQ(count_of(log1, " disconnect " + peer + " lines=2 ") +
                  count_of(log2, " disconnect " + peer + " lines=2 "),
              1U)
        << peer << "\n"
        << log1 << log2;
  }
  // HAProxy's own address never stands for a client.
  EXPECT_EQ(count_of(log1 + log2, " connect 127.0.0.1:"), 0U) << log1 << log2;
  EXPECT_EQ(count_of(log1 + log2, "proxy header from"), 0U) << log1 << log2;
  const auto lines = read_file(dir.file("s1.log")) + read_file(dir.file("s2.log"));
  for (const auto& source : sources) {
    EXPECT_EQ(count_of(lines, "again from " + source + "\n"), 1U) << lines;
  }
}

TEST(haproxy_test, the_documented_configuration_listens_on_loopback_only) {
  const auto config = documented_config(10008, 10018, 10019);
  ASSERT_FALSE(config.empty()) << "no HAProxy configuration under '## Behind HAProxy'";
  EXPECT_EQ(count_of(config, "\n  bind "), 1U) << config;
  EXPECT_EQ(count_of(config, "\n  bind 127.0.0.1:10008\n"), 1U) << config;
}

TEST(haproxy_test, send_proxy_v1_clients_get_greeting_acks_and_their_own_address_in_logs) {
  if (!have_haproxy()) {
    GTEST_SKIP() << "haproxy is not installed (scripts/install-deps --test installs it)";
  }
  converse_through_haproxy("send-proxy");
}

TEST(haproxy_test, send_proxy_v2_clients_get_greeting_acks_and_their_own_address_in_logs) {
  if (!have_haproxy()) {
    GTEST_SKIP() << "haproxy is not installed (scripts/install-deps --test installs it)";
  }
  converse_through_haproxy("send-proxy-v2");
}

}  // namespace
}  // namespace ringline::integration

// ringline behind the real HAProxy (Debian's haproxy), as docs/operations.md configures it:
// TCP mode, two ringline-server --proxy-protocol instances, round robin, once with send-proxy
// (v1) and once with send-proxy-v2. Clients come from their own loopback addresses
// (127.0.0.11, .12, ...), and the servers must log those, not HAProxy's.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::child_process;
using test_support::server_process;
using test_support::socket_client;
using test_support::unique_fd;

constexpr int k_clients = 4;

/// Returns true if `haproxy` is found in PATH.
bool have_haproxy() {
  return run_program({"sh", "-c", "command -v haproxy"}).exit_code == 0;
}

/// Returns a socket listening on 127.0.0.1 at a port the kernel picked, and that port. HAProxy
/// inherits it (`bind fd@0`), so it accepts from the moment it starts: no port race and no
/// waiting for it to be ready. Throws std::system_error.
std::pair<unique_fd, std::uint16_t> listen_for_haproxy() {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(fd.get(), 64) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::system_error(errno, std::system_category(), "listen for haproxy");
  }
  return {std::move(fd), ntohs(address.sin_port)};
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

/// Returns HAProxy's configuration: TCP mode, the listener inherited on fd 0, and the two
/// servers with `send_proxy` ("send-proxy" or "send-proxy-v2"), round robin, no checks.
std::string haproxy_config(const server_process& s1, const server_process& s2,
                           const std::string& send_proxy) {
  return fmt::format(
      "global\n"
      "  maxconn 256\n"
      "defaults\n"
      "  mode tcp\n"
      "  timeout connect 5s\n"
      "  timeout client 60s\n"
      "  timeout server 60s\n"
      "frontend ringline\n"
      "  bind fd@0\n"
      "  default_backend ringline_servers\n"
      "backend ringline_servers\n"
      "  balance roundrobin\n"
      "  server s1 127.0.0.1:{} {}\n"
      "  server s2 127.0.0.1:{} {}\n",
      s1.port(), send_proxy, s2.port(), send_proxy);
}

/// Starts two servers and HAProxy in front of them, has k_clients clients from 127.0.0.11,
/// .12, ... hold a conversation through it, stops everything and checks what each saw.
void converse_through_haproxy(const std::string& send_proxy) {
  const test_support::temp_dir dir;
  auto s1 = start_server_quietly(
      {"--host", "127.0.0.1", "--proxy-protocol", "--sink", dir.file("s1.log").string()});
  auto s2 = start_server_quietly(
      {"--host", "127.0.0.1", "--proxy-protocol", "--sink", dir.file("s2.log").string()});
  const auto config = dir.file("haproxy.cfg");
  write_file(config, haproxy_config(s1, s2, send_proxy));
  auto [listener, port] = listen_for_haproxy();
  test_support::child_options options;
  options.argv = {"haproxy", "-f", config.string(), "-db"};
  options.stdin_mode = test_support::stdio_mode::descriptor;
  options.stdin_fd = listener.get();
  child_process haproxy(std::move(options));
  listener.reset();  // HAProxy holds its copy; connections wait in the backlog until it accepts

  std::vector<socket_client> clients;
  std::vector<std::string> sources;
  for (int i = 0; i < k_clients; ++i) {
    sources.push_back(fmt::format("127.0.0.{}", 11 + i));
    clients.push_back(connect_from(sources.back(), port));
    auto& client = clients.back();
    ASSERT_EQ(client.read_line(k_wait), k_greeting)
        << sources.back() << "\n"
        << haproxy.stderr_so_far() << s1.process().stderr_so_far() << s2.process().stderr_so_far();
    client.send_all(fmt::format("from {}\nagain from {}\n", sources.back(), sources.back()));
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

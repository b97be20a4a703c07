#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/support/child_process.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::test_support {
namespace {

using namespace std::chrono_literals;

child_process shell(const std::string& script, child_options options = {}) {
  options.argv = {"/bin/sh", "-c", script};
  return child_process(std::move(options));
}

std::size_t open_fd_count() {
  return static_cast<std::size_t>(std::distance(
      std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator()));
}

TEST(child_process_test, reports_stderr_line_and_exit_code) {
  auto child = shell("echo x >&2; exit 3");
  EXPECT_EQ(child.read_stderr_line(5s), "x");
  EXPECT_EQ(child.read_stderr_line(5s), std::nullopt);  // EOF
  EXPECT_EQ(child.wait_for_exit(5s), 3);
  EXPECT_EQ(child.wait_for_exit(0ms), 3);
  EXPECT_EQ(child.stderr_so_far(), "x\n");
}

TEST(child_process_test, captures_stdout_while_stderr_fills) {
  // 256 KiB on stderr would block a child whose stderr pipe nobody drains.
  auto child = shell("head -c 262144 /dev/zero >&2; printf 'a\\nb'");
  EXPECT_EQ(child.read_stdout_all(5s), "a\nb");
  EXPECT_EQ(child.wait_for_exit(5s), 0);
  EXPECT_EQ(child.stderr_so_far().size(), 262144U);
}

TEST(child_process_test, pipes_stdin_to_the_child) {
  child_options options;
  options.argv = {"cat"};
  options.stdin_mode = stdio_mode::pipe;
  child_process child(std::move(options));
  EXPECT_TRUE(child.write_stdin("hello\n"));
  child.close_stdin();
  EXPECT_EQ(child.read_stdout_all(5s), "hello\n");
  EXPECT_EQ(child.wait_for_exit(5s), 0);
}

TEST(child_process_test, write_to_exited_child_returns_false_without_sigpipe) {
  child_options options;
  options.argv = {"true"};
  options.stdin_mode = stdio_mode::pipe;
  child_process child(std::move(options));
  ASSERT_EQ(child.wait_for_exit(5s), 0);
  EXPECT_FALSE(child.write_stdin("x"));
}

TEST(child_process_test, wait_times_out_then_reports_the_killing_signal) {
  auto child = shell("exec sleep 5");
  EXPECT_GT(child.rss_kib(), 0);
  EXPECT_EQ(child.wait_for_exit(50ms), std::nullopt);
  EXPECT_TRUE(child.send_signal(SIGKILL));
  EXPECT_EQ(child.wait_for_exit(5s), 128 + SIGKILL);
  EXPECT_FALSE(child.send_signal(SIGKILL));
  EXPECT_EQ(child.rss_kib(), -1);
}

TEST(child_process_test, child_gets_default_signal_mask) {
  // Tests that use a signalfd block SIGTERM; the program under test must still see it.
  sigset_t term;
  sigset_t old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto child = shell("exec sleep 5");
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  child.send_signal(SIGTERM);
  EXPECT_EQ(child.wait_for_exit(5s), 128 + SIGTERM);
}

TEST(child_process_test, passes_environment_and_nofile_limit) {
  child_options options;
  options.env = {"RINGLINE_SUPPORT_TEST=42", "PATH=/usr/bin:/bin"};
  options.nofile_limit = 64;
  auto child = shell("echo \"$RINGLINE_SUPPORT_TEST $(ulimit -n) $(ulimit -Hn)\"", options);
  EXPECT_EQ(child.read_stdout_all(5s), "42 64 64\n");
  EXPECT_EQ(child.wait_for_exit(5s), 0);
}

TEST(child_process_test, runs_the_program_under_its_wrapper) {
  child_options options;
  options.wrapper = {"env", "-u", "RINGLINE_SUPPORT_UNSET", "RINGLINE_SUPPORT_WRAPPED=yes"};
  options.env = {"RINGLINE_SUPPORT_UNSET=still here"};
  auto child = shell("echo \"$RINGLINE_SUPPORT_WRAPPED[$RINGLINE_SUPPORT_UNSET]\"", options);
  EXPECT_EQ(child.read_stdout_all(5s), "yes[]\n");
  EXPECT_EQ(child.wait_for_exit(5s), 0);
}

TEST(child_process_test, redirects_stdout_to_a_file) {
  temp_dir dir;
  child_options options;
  options.stdout_mode = stdio_mode::file;
  options.stdout_path = dir.file("out.txt");
  auto child = shell("echo hi", options);
  ASSERT_EQ(child.wait_for_exit(5s), 0);
  std::ifstream file(dir.file("out.txt"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(file), {}), "hi\n");
}

TEST(child_process_test, throws_when_the_program_cannot_start) {
  child_options options;
  options.argv = {"/nonexistent/ringline-program"};
  try {
    child_process child(std::move(options));
    FAIL() << "no exception";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
  }
}

TEST(child_process_test, leaks_no_descriptors) {
  const auto before = open_fd_count();
  // A descriptor opened without O_CLOEXEC (by another library, say) must not reach the child.
  const int stray = fcntl(STDERR_FILENO, F_DUPFD, 10);
  ASSERT_GE(stray, 0);
  {
    auto child = shell(fmt::format("test -e /proc/self/fd/{} && echo leaked || echo clean", stray));
    EXPECT_EQ(child.read_stdout_all(5s), "clean\n");
    auto running = shell("exec sleep 5");  // killed and reaped by the destructor
  }
  close(stray);
  EXPECT_EQ(open_fd_count(), before);
}

TEST(server_process_test, parses_listening_lines) {
  const auto v4 = parse_listening_line("listening on 127.0.0.1:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  const auto v6 = parse_listening_line("info: listening on [::1]:9 (2 workers)");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9);
  EXPECT_FALSE(parse_listening_line("listening on ::1"));
  EXPECT_FALSE(parse_listening_line("listening on 127.0.0.1:0"));
  EXPECT_FALSE(parse_listening_line("started"));
}

TEST(server_process_test, waits_for_the_announcement_and_stops) {
  auto server = server_process::start(
      "/bin/sh", {"-c", "echo starting >&2; echo 'listening on [::1]:4242' >&2; exec sleep 30"});
  EXPECT_EQ(server.host(), "::1");
  EXPECT_EQ(server.port(), 4242);
  EXPECT_EQ(server.startup_lines(),
            (std::vector<std::string>{"starting", "listening on [::1]:4242"}));
  EXPECT_EQ(server.stop(), 128 + SIGTERM);
}

TEST(server_process_test, starts_a_wrapped_server) {
  child_options options;
  options.wrapper = {"env", "RINGLINE_SUPPORT_ANNOUNCE=listening on 127.0.0.1:4243"};
  options.argv = {"/bin/sh", "-c", "echo \"$RINGLINE_SUPPORT_ANNOUNCE\" >&2; exec sleep 30"};
  auto server = server_process::start(std::move(options));
  EXPECT_EQ(server.port(), 4243);
  EXPECT_EQ(server.stop(), 128 + SIGTERM);
}

TEST(server_process_test, throws_with_stderr_when_the_server_exits_early) {
  try {
    auto server = server_process::start("/bin/sh", {"-c", "echo 'io_uring: EPERM' >&2; exit 1"});
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("io_uring: EPERM"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("exit code 1"), std::string::npos);
  }
}

/// A listening socket on an ephemeral loopback port, for testing the client side.
struct listener {
  explicit listener(int family = AF_INET) {
    fd.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage address{};
    socklen_t length = 0;
    if (family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      length = sizeof *v4;
    } else {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_addr = in6addr_loopback;
      length = sizeof *v6;
    }
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd.get(), 8) != 0 ||
        getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::system_category(), "listener");
    }
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  unique_fd accept() const {
    return unique_fd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

  unique_fd fd;
  std::uint16_t port = 0;
};

void write_all(const unique_fd& fd, std::string_view data) {
  ASSERT_EQ(send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(data.size()));
}

TEST(socket_client_test, reads_lines_and_buffers_partial_ones) {
  listener server;
  auto client = socket_client::connect("127.0.0.1", server.port);
  const auto peer = server.accept();
  ASSERT_TRUE(peer);
  write_all(peer, "connect\nhal");
  EXPECT_EQ(client.read_line(5s), "connect\n");
  EXPECT_EQ(client.read_line(20ms), std::nullopt);
  EXPECT_FALSE(client.eof());
  write_all(peer, "f\nrest");
  EXPECT_EQ(client.read_line(5s), "half\n");

  client.send_all("abc\n");
  char buffer[8] = {};
  EXPECT_EQ(recv(peer.get(), buffer, sizeof buffer, 0), 4);
  EXPECT_EQ(std::string_view(buffer, 4), "abc\n");

  shutdown(peer.get(), SHUT_WR);
  EXPECT_EQ(client.read_until_eof(5s), "rest");
  EXPECT_TRUE(client.eof());
  EXPECT_FALSE(client.was_reset());
  EXPECT_EQ(client.read_line(5s), std::nullopt);
}

TEST(socket_client_test, shutdown_write_sends_fin_and_keeps_receiving) {
  listener server;
  auto client = socket_client::connect("127.0.0.1", server.port);
  const auto peer = server.accept();
  client.shutdown_write();
  char byte = 0;
  EXPECT_EQ(recv(peer.get(), &byte, 1, 0), 0);  // FIN
  write_all(peer, "ack\n");
  EXPECT_EQ(client.read_line(5s), "ack\n");
}

TEST(socket_client_test, reset_sends_rst) {
  listener server;
  auto client = socket_client::connect("127.0.0.1", server.port);
  const auto peer = server.accept();
  client.reset();
  EXPECT_EQ(client.fd(), -1);
  char byte = 0;
  EXPECT_EQ(recv(peer.get(), &byte, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(socket_client_test, sees_a_reset_from_the_peer) {
  listener server;
  auto client = socket_client::connect("127.0.0.1", server.port);
  {
    socket_client peer(server.accept());
    peer.reset();
  }
  EXPECT_TRUE(client.wait_for_eof(5s));
  EXPECT_TRUE(client.was_reset());
}

TEST(socket_client_test, send_some_stops_when_the_peer_does_not_read) {
  listener server;
  auto client = socket_client::connect("127.0.0.1", server.port);
  const auto peer = server.accept();
  const std::string chunk(1 << 20, 'x');
  std::size_t total = 0;
  for (int i = 0; i < 256; ++i) {
    const auto sent = client.send_some(chunk, 20ms);
    if (sent == 0) {
      break;
    }
    total += sent;
  }
  EXPECT_GT(total, 0U);
  EXPECT_LT(total, 256U * chunk.size());
}

TEST(socket_client_test, connects_over_ipv6) {
  std::optional<listener> server;
  try {
    server.emplace(AF_INET6);
  } catch (const std::system_error& error) {
    GTEST_SKIP() << "no IPv6 loopback: " << error.what();
  }
  auto client = socket_client::connect("[::1]", server->port);
  const auto peer = server->accept();
  write_all(peer, "ok\n");
  EXPECT_EQ(client.read_line(5s), "ok\n");
  EXPECT_GT(client.local_port(), 0);
}

TEST(socket_client_test, throws_on_bad_address_and_refused_connection) {
  EXPECT_THROW(socket_client::connect("localhost", 1), std::system_error);
  std::uint16_t closed_port = 0;
  {
    listener server;
    closed_port = server.port;
  }
  try {
    socket_client::connect("127.0.0.1", closed_port);
    FAIL() << "connected to a closed port";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::connection_refused);
  }
}

TEST(temp_dir_test, removes_its_tree) {
  std::filesystem::path path;
  {
    temp_dir dir;
    path = dir.path();
    std::filesystem::create_directories(dir.file("a/b"));
    std::ofstream(dir.file("a/b/c")) << "x";
    EXPECT_TRUE(std::filesystem::exists(dir.file("a/b/c")));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace ringline::test_support

// ringline-server under systemd's protocols, with the real pieces: the listening socket handed
// over by /usr/bin/systemd-socket-activate (socket activation), and a notify socket owned by
// the test in place of the service manager (Type=notify: READY, STATUS, WATCHDOG, STOPPING).
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/notify_socket.hpp"

namespace ringline::integration {
namespace {

using test_support::child_options;
using test_support::child_process;
using test_support::notify_socket;
using test_support::notify_value;
using test_support::parse_listening_line;
using test_support::pick_free_port;
using test_support::server_path;
using test_support::socket_client;
using test_support::stdio_mode;

constexpr const char* k_socket_activate = "/usr/bin/systemd-socket-activate";

/// systemd-socket-activate holding `ports.size()` listening sockets on 127.0.0.1, with
/// ringline-server as the program it execs (in place: the pid stays the same) on the first
/// connection.
struct activated {
  child_process process;
  std::vector<std::uint16_t> ports;
};

/// Starts systemd-socket-activate on `sockets` free ports with ringline-server and
/// `server_args` (where "{port}" stands for the first port), and waits until it listens. A port
/// picked free may be taken by someone else before systemd-socket-activate binds it: then it is
/// tried again with new ports.
activated start_activated(std::size_t sockets, const std::vector<std::string>& server_args) {
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    child_options options;
    options.argv = {k_socket_activate};
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < sockets; ++i) {
      ports.push_back(pick_free_port());
      options.argv.push_back("--listen=127.0.0.1:" + std::to_string(ports.back()));
    }
    options.argv.push_back(server_path());
    for (const auto& arg : server_args) {
      options.argv.push_back(arg == "{port}" ? std::to_string(ports.front()) : arg);
    }
    options.stdout_mode = stdio_mode::null;
    child_process process(std::move(options));
    std::size_t listening = 0;
    while (listening < sockets &&
           test_support::wait_for_stderr_line(process, "Listening on", k_wait)) {
      ++listening;
    }
    if (listening == sockets) {
      return {std::move(process), std::move(ports)};
    }
    (void)process.wait_for_exit(k_wait);
    last_error = process.stderr_so_far();
  }
  throw std::runtime_error("systemd-socket-activate did not listen:\n" + last_error);
}

/// Sends one line on a fresh connection and returns what came back: the greeting, then the ack.
std::string converse(std::uint16_t port) {
  auto client = socket_client::connect("127.0.0.1", port);
  std::string received = client.read_line(k_wait).value_or("(no greeting)");
  client.send_all("hello\n");
  received += client.read_line(k_wait).value_or("(no ack)");
  return received;
}

TEST(systemd_test, socket_activation_hands_the_listener_to_the_server) {
  // The server's own --port is the activated port: binding it would fail (systemd's socket
  // listens there), so a conversation shows that the passed socket is the one served.
  auto started = start_activated(1, {"--sink", "none", "--threads", "1", "--port", "{port}"});
  const auto port = started.ports.front();
  // The first connection makes systemd-socket-activate exec the server, which accepts it.
  EXPECT_EQ(converse(port), std::string(k_greeting) + std::string(k_ack));
  const auto inherited = wait_for_stderr_prefix(started.process, "socket activation: serving");
  ASSERT_TRUE(inherited) << started.process.stderr_so_far();
  EXPECT_NE(inherited->find("--host and --port are not used"), std::string::npos) << *inherited;
  const auto announced = wait_for_stderr_line(started.process, "listening on");
  ASSERT_TRUE(announced) << started.process.stderr_so_far();
  const auto address = parse_listening_line(*announced);
  ASSERT_TRUE(address) << *announced;
  EXPECT_EQ(address->port, port);
  // A second conversation: the accept loop goes on on the inherited socket.
  EXPECT_EQ(converse(port), std::string(k_greeting) + std::string(k_ack));
  ASSERT_TRUE(started.process.send_signal(SIGTERM));
  EXPECT_EQ(started.process.wait_for_exit(k_wait), 0) << started.process.stderr_so_far();
}

TEST(systemd_test, every_thread_accepts_on_the_activated_socket) {
  auto started = start_activated(1, {"--sink", "none", "--threads", "2", "--quiet"});
  const auto port = started.ports.front();
  constexpr int k_clients = 16;
  for (int i = 0; i < k_clients; ++i) {
    ASSERT_EQ(converse(port), std::string(k_greeting) + std::string(k_ack)) << "client " << i;
  }
  ASSERT_TRUE(started.process.send_signal(SIGTERM));
  EXPECT_EQ(started.process.wait_for_exit(k_wait), 0) << started.process.stderr_so_far();
  // Both threads' servers ran on the one inherited socket and counted what they accepted.
  const auto log = started.process.stderr_so_far();
  EXPECT_NE(log.find("accepted per thread: "), std::string::npos) << log;
  EXPECT_NE(log.find("accepted=" + std::to_string(k_clients)), std::string::npos) << log;
}

TEST(systemd_test, every_thread_accepts_on_every_activated_socket) {
  auto started = start_activated(2, {"--sink", "none", "--threads", "2"});
  const auto first = started.ports.at(0);
  const auto second = started.ports.at(1);
  // The first connection (on the first socket) makes systemd-socket-activate exec the server.
  EXPECT_EQ(converse(first), std::string(k_greeting) + std::string(k_ack));
  const auto inherited = wait_for_stderr_prefix(started.process, "socket activation: serving");
  ASSERT_TRUE(inherited) << started.process.stderr_so_far();
  EXPECT_NE(inherited->find("the 2 listening sockets"), std::string::npos) << *inherited;
  // The announcement names both sockets' addresses, the first one first.
  const auto announced = wait_for_stderr_line(started.process, "listening on");
  ASSERT_TRUE(announced) << started.process.stderr_so_far();
  const auto address = parse_listening_line(*announced);
  ASSERT_TRUE(address) << *announced;
  EXPECT_EQ(address->port, first);
  EXPECT_NE(announced->find("127.0.0.1:" + std::to_string(second) + " "), std::string::npos)
      << *announced;
  // Conversations on both sockets, enough of them that each thread's accept loops on both
  // are likely to take some (which thread gets one is the kernel's choice).
  constexpr int k_rounds = 8;
  for (int i = 0; i < k_rounds; ++i) {
    ASSERT_EQ(converse(first), std::string(k_greeting) + std::string(k_ack)) << "round " << i;
    ASSERT_EQ(converse(second), std::string(k_greeting) + std::string(k_ack)) << "round " << i;
  }
  // Graceful stop ends every accept loop of every thread: the server exits 0, having counted
  // every connection of both sockets.
  ASSERT_TRUE(started.process.send_signal(SIGTERM));
  EXPECT_EQ(started.process.wait_for_exit(k_wait), 0) << started.process.stderr_so_far();
  const auto log = started.process.stderr_so_far();
  EXPECT_NE(log.find("accepted=" + std::to_string(1 + 2 * k_rounds)), std::string::npos) << log;
}

/// Starts ringline-server on port 0 with `args`, its notifications going to `manager`, and a
/// watchdog of `watchdog_usec` for its own pid (the shell sets WATCHDOG_PID and execs the
/// server, so the pid is the server's, as systemd would set it).
test_support::server_process start_notifying(const notify_socket& manager,
                                             const std::string& watchdog_usec,
                                             std::vector<std::string> args,
                                             std::vector<std::string> env = {}) {
  child_options options;
  options.argv = {
      "/bin/sh",     "-c",     "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" \"$@\"",
      server_path(), "--port", "0",
      "--sink",      "none"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = std::move(env);
  options.env.push_back(manager.env());
  if (!watchdog_usec.empty()) {
    options.env.push_back("WATCHDOG_USEC=" + watchdog_usec);
  }
  options.stdout_mode = stdio_mode::null;
  return test_support::server_process::start(std::move(options), k_wait);
}

TEST(systemd_test, notify_sends_ready_status_watchdog_and_stopping) {
  notify_socket manager;
  auto server = start_notifying(manager, "200000", {});
  const auto ready = manager.wait_for("READY=1", k_wait);
  ASSERT_TRUE(ready) << server.process().stderr_so_far();
  EXPECT_EQ(manager.skipped(), 0U) << "READY=1 is the first message";
  const auto status = notify_value(*ready, "STATUS");
  ASSERT_TRUE(status) << *ready;
  const auto address = parse_listening_line(*status);
  ASSERT_TRUE(address) << *status;
  EXPECT_EQ(address->port, server.port());
  // WATCHDOG_USEC=200000: a WATCHDOG=1 every 100 ms, from the main loop.
  for (int beat = 0; beat < 3; ++beat) {
    ASSERT_TRUE(manager.wait_for("WATCHDOG=1", k_wait)) << "beat " << beat;
  }
  // SIGUSR1 sends the counters at once (else they come every few seconds).
  auto client = server.connect();
  ASSERT_EQ(client.read_line(k_wait), std::string(k_greeting));
  client.send_all("one\n");
  ASSERT_EQ(client.read_line(k_wait), std::string(k_ack));
  ASSERT_TRUE(server.process().send_signal(SIGUSR1));
  EXPECT_TRUE(manager.wait_for("STATUS=connections=1 lines=1", k_wait));
  client.close();
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  const auto stopping = manager.wait_for("STOPPING=1", k_wait);
  ASSERT_TRUE(stopping) << server.process().stderr_so_far();
  EXPECT_TRUE(notify_value(*stopping, "STATUS").value_or("").starts_with("draining: "))
      << *stopping;
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
}

TEST(systemd_test, status_comes_periodically_without_being_asked) {
  // No watchdog, no signal: the only STATUS= after READY=1's is the periodic one (5 s, here
  // shortened to 200 ms by RINGLINE_TEST_STATUS_PERIOD).
  notify_socket manager;
  auto server = start_notifying(manager, "", {}, {"RINGLINE_TEST_STATUS_PERIOD=200ms"});
  ASSERT_TRUE(manager.wait_for("READY=1", k_wait)) << server.process().stderr_so_far();
  const auto ready_at = std::chrono::steady_clock::now();
  const auto status = manager.receive(k_wait);
  ASSERT_TRUE(status) << "no STATUS= within " << k_wait.count() << " ms";
  EXPECT_EQ(*status, "STATUS=connections=0 lines=0");
  // At the period, not earlier; and again after it.
  EXPECT_GE(std::chrono::steady_clock::now() - ready_at, 150ms);
  EXPECT_EQ(manager.receive(k_wait), "STATUS=connections=0 lines=0");
  EXPECT_EQ(server.stop(), 0);
}

TEST(systemd_test, watchdog_pings_come_at_half_the_watchdog_interval) {
  // systemd kills a service whose pings are WATCHDOG_USEC apart or more; sd_watchdog_enabled(3)
  // says to ping at half of it, so a late loop turn is not fatal. The time between two pings,
  // measured here, can only grow with a busy machine, never shrink: at least one gap of a few
  // must be well under the interval (a loop pinging at the interval itself never is). The
  // loop's timers fire up to a 100 ms tick late, so pings come 500-600 ms apart here, and
  // never less than 1,000 ms apart at the interval itself.
  constexpr auto k_interval = 1000ms;
  notify_socket manager;
  auto server = start_notifying(manager, "1000000", {});
  ASSERT_TRUE(manager.wait_for("WATCHDOG=1", k_wait)) << server.process().stderr_so_far();
  auto last = std::chrono::steady_clock::now();
  std::vector<std::chrono::steady_clock::duration> gaps;
  for (int beat = 0; beat < 3; ++beat) {
    ASSERT_TRUE(manager.wait_for("WATCHDOG=1", k_wait)) << "beat " << beat;
    const auto now = std::chrono::steady_clock::now();
    gaps.push_back(now - last);
    last = now;
  }
  std::sort(gaps.begin(), gaps.end());
  const auto shortest = gaps.front();
  const auto median = gaps[gaps.size() / 2];
  EXPECT_LT(median, k_interval * 3 / 4)
      << "pings " << std::chrono::duration_cast<std::chrono::milliseconds>(median).count()
      << " ms apart (median) for WATCHDOG_USEC of 1 s";
  // Not a flood either: about half the interval.
  EXPECT_GE(shortest, k_interval * 2 / 5);
  EXPECT_EQ(server.stop(), 0);
}

TEST(systemd_test, no_watchdog_for_another_pid) {
  // WATCHDOG_PID names the process the manager watches; a child that is not it must not
  // feed the watchdog. Here WATCHDOG_PID is the shell's parent, not the server.
  notify_socket manager;
  child_options options;
  options.argv = {
      "/bin/sh",     "-c",     "WATCHDOG_PID=$PPID; export WATCHDOG_PID; exec \"$0\" \"$@\"",
      server_path(), "--port", "0",
      "--sink",      "none"};
  options.env = {manager.env(), "WATCHDOG_USEC=200000"};
  options.stdout_mode = stdio_mode::null;
  auto server = test_support::server_process::start(std::move(options), k_wait);
  ASSERT_TRUE(manager.wait_for("READY=1", k_wait));
  const auto log = wait_for_stderr_line(server.process(), "systemd: sent READY=1");
  ASSERT_TRUE(log) << server.process().stderr_so_far();
  EXPECT_NE(log->find("watchdog off"), std::string::npos) << *log;
  ASSERT_TRUE(server.process().send_signal(SIGTERM));
  // Every message up to STOPPING=1 is looked at: none may be a WATCHDOG=1.
  for (;;) {
    const auto message = manager.receive(k_wait);
    ASSERT_TRUE(message) << "no STOPPING=1";
    EXPECT_FALSE(test_support::has_notify_line(*message, "WATCHDOG=1"));
    if (test_support::has_notify_line(*message, "STOPPING=1")) {
      break;
    }
  }
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0);
}

}  // namespace
}  // namespace ringline::integration

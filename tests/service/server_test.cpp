// A server with several listening sockets (what socket activation can pass): an accept loop on
// each, all ended by one stop().
#include "service/server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "client/sources.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "service/sink.hpp"

namespace ringline::service {
namespace {

config listening_config() {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  settings.host = "127.0.0.1";
  settings.port = 0;
  settings.log_connections = false;
  return settings;
}

// Returns the errno of a blocking connect to 127.0.0.1:`port` (0 when it connected).
int connect_error(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = rc == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

struct outcome {
  std::vector<std::uint64_t> acked;  // per listener, in order
  bool run_ended_by_stop = false;
};

runtime::task<void> run_then_set(server& running, runtime::event& ended) {
  co_await running.run();
  ended.set();
}

runtime::task<outcome> converse_on_each(server& running, sink& lines) {
  auto& loop = runtime::event_loop::current();
  runtime::event run_ended;
  loop.spawn(lines.run());
  loop.spawn(run_then_set(running, run_ended));
  outcome result;
  for (const auto& address : running.local_addresses()) {
    client::client_options options;
    options.host = address.host();
    options.port = address.port();
    // A listener nobody accepts on still completes the handshake (the backlog): its
    // conversation ends with no greeting after this, well inside the test's timeout.
    options.timeout = std::chrono::seconds(5);
    client::vector_source source({"one", "two"});
    auto talked = co_await client::converse(
        options, source, [](const protocol::reply&) {}, nullptr);
    result.acked.push_back(talked ? talked->acked : 0);
  }
  // run() waits for every accept loop: it ends only once stop() has ended them all.
  result.run_ended_by_stop = !run_ended.is_set();
  running.stop();
  co_await run_ended;
  co_await running.wait_for_sessions();
  lines.stop();
  co_await loop.wait_for_spawned();
  co_return result;
}

TEST(server_test, accepts_on_every_listener_it_took_until_stopped) {
  runtime::event_loop loop;
  auto lines = sink::open("none");
  ASSERT_TRUE(lines);
  const auto settings = listening_config();
  server running(settings, **lines);
  for (int i = 0; i < 3; ++i) {
    auto listener = server::open_listener(settings);
    ASSERT_TRUE(listener) << listener.error().message();
    ASSERT_TRUE(running.take_listener(std::move(*listener)));
  }
  const auto addresses = running.local_addresses();
  ASSERT_EQ(addresses.size(), 3U);
  EXPECT_EQ(running.local_address().port(), addresses.front().port());
  EXPECT_NE(addresses[0].port(), addresses[1].port());
  EXPECT_NE(addresses[1].port(), addresses[2].port());

  const auto result = loop.run(converse_on_each(running, **lines));

  EXPECT_EQ(result.acked, (std::vector<std::uint64_t>{2, 2, 2}));
  EXPECT_TRUE(result.run_ended_by_stop);
  EXPECT_EQ(running.counters().accepted.load(), 3U);
  // Every accept loop closed its listener on the way out: nothing listens there any more.
  for (const auto& address : addresses) {
    EXPECT_EQ(connect_error(address.port()), ECONNREFUSED) << address.to_string();
  }
}

TEST(server_test, local_address_is_empty_without_a_listener) {
  auto lines = sink::open("none");
  ASSERT_TRUE(lines);
  const server idle(listening_config(), **lines);
  EXPECT_TRUE(idle.local_addresses().empty());
  EXPECT_EQ(idle.local_address().port(), 0);
}

}  // namespace
}  // namespace ringline::service

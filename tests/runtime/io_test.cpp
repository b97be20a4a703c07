#include "runtime/io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/signal_set.hpp"
#include "runtime/socket.hpp"
#include "runtime/yield.hpp"

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;

struct socket_pair {
  unique_fd left;
  unique_fd right;
};

socket_pair make_socket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

task<std::string> receive_exactly(int fd, std::size_t size) {
  std::string received;
  std::vector<char> buffer(std::size_t{64} * 1024);
  while (received.size() < size) {
    auto got = co_await recv_some(fd, buffer);
    if (!got || *got == 0) {
      break;
    }
    received.append(buffer.data(), *got);
  }
  co_return received;
}

task<result<void>> send_text(int fd, std::string text) {
  co_return co_await send_all(fd, text);
}

TEST(io_test, send_all_delivers_every_byte_past_short_sends) {
  event_loop loop;
  auto pair = make_socket_pair();
  // Far more than a socket buffer holds, so the kernel must take it in several sends.
  std::string payload(std::size_t{8} * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>(i * 7 % 251);
  }
  auto both = [](int out, int in, std::string text) -> task<std::string> {
    event_loop::current().spawn([](int fd, std::string data) -> task<void> {
      auto sent = co_await send_all(fd, data);
      EXPECT_TRUE(sent) << sent.error().message();
    }(out, text));
    co_return co_await receive_exactly(in, text.size());
  };
  EXPECT_EQ(loop.run(both(pair.left.get(), pair.right.get(), payload)), payload);
}

TEST(io_test, recv_some_returns_zero_at_end_of_stream) {
  event_loop loop;
  auto pair = make_socket_pair();
  pair.left.reset();
  auto receive = [](int fd) -> task<result<std::size_t>> {
    char buffer[16];
    co_return co_await recv_some(fd, buffer);
  };
  auto got = loop.run(receive(pair.right.get()));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0U);
}

TEST(io_test, send_to_closed_peer_is_an_error_not_sigpipe) {
  event_loop loop;
  auto pair = make_socket_pair();
  pair.right.reset();
  auto sent = loop.run(send_text(pair.left.get(), "hello"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), std::errc::broken_pipe);
}

task<std::string> accept_and_read(int listener) {
  auto conn = co_await accept(listener);
  EXPECT_TRUE(conn) << conn.error().message();
  if (!conn) {
    co_return "";
  }
  EXPECT_NE(conn->peer.port(), 0);
  co_return co_await receive_exactly(conn->fd.get(), 5);
}

task<std::string> loopback_round_trip(std::string host) {
  auto where = address::parse(host, 0);
  EXPECT_TRUE(where);
  auto listener = listen_tcp(*where);
  EXPECT_TRUE(listener) << listener.error().message();
  auto bound = local_address(listener->get());
  EXPECT_TRUE(bound);
  EXPECT_NE(bound->port(), 0);

  auto client = open_tcp_socket(bound->family());
  EXPECT_TRUE(client);
  auto reader = accept_and_read(listener->get());
  event_loop::current().spawn([](int fd, address to) -> task<void> {
    auto connected = co_await connect(fd, to);
    EXPECT_TRUE(connected) << connected.error().message();
    auto sent = co_await send_all(fd, std::string_view("hello"));
    EXPECT_TRUE(sent);
  }(client->get(), *bound));
  auto text = co_await std::move(reader);
  co_await event_loop::current().wait_for_spawned();
  co_return text;
}

TEST(io_test, accept_and_connect_on_ipv4_loopback) {
  event_loop loop;
  EXPECT_EQ(loop.run(loopback_round_trip("127.0.0.1")), "hello");
}

TEST(io_test, accept_and_connect_on_ipv6_loopback) {
  event_loop loop;
  EXPECT_EQ(loop.run(loopback_round_trip("::1")), "hello");
}

TEST(io_test, connect_to_closed_port_is_refused) {
  event_loop loop;
  // Bind a port, then close it: nothing listens there any more.
  auto where = address::parse("127.0.0.1", 0);
  auto listener = listen_tcp(*where);
  auto bound = local_address(listener->get());
  listener->reset();
  auto try_connect = [](address to) -> task<result<void>> {
    auto fd = open_tcp_socket(to.family());
    co_return co_await connect(fd->get(), to);
  };
  auto connected = loop.run(try_connect(*bound));
  ASSERT_FALSE(connected);
  EXPECT_EQ(connected.error(), std::errc::connection_refused);
}

TEST(io_test, recv_with_timeout_fails_with_timed_out) {
  event_loop loop;
  auto pair = make_socket_pair();
  auto receive = [](int fd) -> task<result<std::size_t>> {
    char buffer[16];
    co_return co_await recv_some(fd, buffer, io_options{.timeout = 20ms});
  };
  auto got = loop.run(receive(pair.right.get()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::timed_out);
  EXPECT_EQ(loop.in_flight(), 0U);
}

// A descriptor closed by unique_fd (not through the loop) whose number the next socket gets:
// the loop must watch the new socket, not take it for the old one it had registered (epoll
// keeps what it knows per descriptor number).
TEST(io_test, a_descriptor_number_closed_and_reused_is_watched_anew) {
  event_loop loop;
  auto scenario = []() -> task<void> {
    auto first = make_socket_pair();
    const int number = first.right.get();
    char buffer[16];
    // Waits (and so is registered), then gives up.
    auto waited = co_await recv_some(number, buffer, io_options{.timeout = 20ms});
    EXPECT_EQ(waited.error(), std::errc::timed_out);
    first.right.reset();
    auto second = make_socket_pair();
    EXPECT_EQ(second.left.get(), number) << "the kernel hands out the lowest free number";
    // The data comes only once the receive waits: on the next turn.
    event_loop::current().spawn([](int peer) -> task<void> {
      co_await yield();
      EXPECT_EQ(::send(peer, "x", 1, MSG_NOSIGNAL), 1);
    }(second.right.get()));
    auto got = co_await recv_some(second.left.get(), buffer, io_options{.timeout = 5s});
    EXPECT_TRUE(got) << got.error().message();
    co_await event_loop::current().wait_for_spawned();
  };
  loop.run(scenario());
}

TEST(io_test, a_deadline_counts_from_the_turn_that_led_to_its_operation) {
  // Deadlines count from when the loop's wait returned, not from each submission; what led
  // to the receive (the sleep's end) came before that, so its timeout still runs in full.
  event_loop loop;
  auto pair = make_socket_pair();
  const auto start = std::chrono::steady_clock::now();
  auto receive_after_a_sleep = [](int fd) -> task<result<std::size_t>> {
    (void)co_await sleep_for(150ms);
    char buffer[16];
    co_return co_await recv_some(fd, buffer, io_options{.timeout = 100ms});
  };
  auto got = loop.run(receive_after_a_sleep(pair.right.get()));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - (start + 150ms), 100ms);
}

TEST(io_test, data_before_timeout_is_delivered) {
  event_loop loop;
  auto pair = make_socket_pair();
  ASSERT_EQ(::write(pair.left.get(), "x", 1), 1);
  auto receive = [](int fd) -> task<result<std::size_t>> {
    char buffer[16];
    co_return co_await recv_some(fd, buffer, io_options{.timeout = 10s});
  };
  auto got = loop.run(receive(pair.right.get()));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 1U);
}

task<result<std::size_t>> receive_cancellable(int fd, cancellation* cancel) {
  char buffer[16];
  co_return co_await recv_some(fd, buffer, io_options{.timeout = {}, .cancel = cancel});
}

TEST(io_test, cancellation_ends_a_pending_operation) {
  event_loop loop;
  auto pair = make_socket_pair();
  cancellation cancel;
  auto scenario = [](int fd, cancellation* c) -> task<result<std::size_t>> {
    event_loop::current().spawn([](cancellation* to_cancel) -> task<void> {
      (void)co_await sleep_for(5ms);
      to_cancel->request();
    }(c));
    co_return co_await receive_cancellable(fd, c);
  };
  auto got = loop.run(scenario(pair.right.get(), &cancel));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_canceled);
  EXPECT_EQ(loop.in_flight(), 0U);
}

TEST(io_test, cancellation_requested_earlier_skips_the_kernel) {
  event_loop loop;
  auto pair = make_socket_pair();
  cancellation cancel;
  cancel.request();
  auto got = loop.run(receive_cancellable(pair.right.get(), &cancel));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), std::errc::operation_canceled);
}

TEST(io_test, sleep_for_waits_at_least_its_duration) {
  event_loop loop;
  const auto start = std::chrono::steady_clock::now();
  auto slept = loop.run([]() -> task<result<void>> { co_return co_await sleep_for(15ms); }());
  EXPECT_TRUE(slept);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 15ms);
}

TEST(io_test, sleep_can_be_cancelled) {
  event_loop loop;
  cancellation cancel;
  auto scenario = [](cancellation* c) -> task<result<void>> {
    event_loop::current().spawn([](cancellation* to_cancel) -> task<void> {
      to_cancel->request();
      co_return;
    }(c));
    co_return co_await sleep_for(10s, c);
  };
  auto slept = loop.run(scenario(&cancel));
  ASSERT_FALSE(slept);
  EXPECT_EQ(slept.error(), std::errc::operation_canceled);
}

TEST(io_test, close_through_the_ring_releases_the_descriptor) {
  event_loop loop;
  auto pair = make_socket_pair();
  const int fd = pair.left.get();
  auto closed = loop.run([](unique_fd owned) -> task<result<void>> {
    co_return co_await close(std::move(owned));
  }(std::move(pair.left)));
  EXPECT_TRUE(closed);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  char byte;
  EXPECT_EQ(::read(pair.right.get(), &byte, 1), 0);  // the peer sees end of stream
}

TEST(io_test, read_and_write_on_a_pipe) {
  event_loop loop;
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  unique_fd in(fds[0]), out(fds[1]);
  auto scenario = [](int read_fd, int write_fd) -> task<std::string> {
    auto wrote = co_await write_all(write_fd, std::string_view("through the pipe"));
    EXPECT_TRUE(wrote);
    char buffer[64];
    auto got = co_await read_some(read_fd, buffer);
    co_return got ? std::string(buffer, *got) : std::string();
  };
  EXPECT_EQ(loop.run(scenario(in.get(), out.get())), "through the pipe");
}

TEST(io_test, datasync_flushes_a_file_and_fails_on_a_socket) {
  event_loop loop;
  char path[] = "/tmp/ringline-datasync-XXXXXX";
  unique_fd file(::mkstemp(path));
  ASSERT_TRUE(file);
  ::unlink(path);
  auto scenario = [](int fd) -> task<result<void>> {
    auto wrote = co_await write_all(fd, std::string_view("durable\n"));
    EXPECT_TRUE(wrote);
    co_return co_await datasync(fd);
  };
  auto synced = loop.run(scenario(file.get()));
  EXPECT_TRUE(synced) << synced.error().message();
  auto pair = make_socket_pair();
  auto on_socket = loop.run(
      [](int fd) -> task<result<void>> { co_return co_await datasync(fd); }(pair.left.get()));
  EXPECT_FALSE(on_socket);  // EINVAL: a socket has no storage to flush
}

TEST(io_test, signal_set_delivers_a_signal) {
  event_loop loop;
  signal_set signals{SIGUSR2};
  auto scenario = [](signal_set* set) -> task<result<int>> {
    event_loop::current().spawn([]() -> task<void> {
      (void)co_await sleep_for(1ms);
      ::kill(::getpid(), SIGUSR2);
    }());
    co_return co_await set->wait();
  };
  auto got = loop.run(scenario(&signals));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, SIGUSR2);
}

}  // namespace
}  // namespace ringline::runtime

// A client beyond --max-connections that starts sending at once still gets a clean refusal:
// the server drains what the client sent before closing, since a close with unread input
// sends a reset, and a reset can destroy the refusal before the client reads it (the client's
// kernel reports ECONNRESET, and on many systems throws away what it had not read yet).
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;

// What the refused client sends right after connecting, before it reads anything: less than
// the 64 KiB the server drains, and within the receive window of a fresh loopback connection.
constexpr std::size_t k_eager_bytes = std::size_t{32} * 1024;

/// Returns the bytes `fd` has sent that the peer's kernel has not acknowledged yet.
int unacknowledged_bytes(int fd) {
  int count = 0;
  return ::ioctl(fd, SIOCOUTQ, &count) == 0 ? count : -1;
}

/// Returns the kernel's TCP state of `fd` (TCP_CLOSE_WAIT, TCP_CLOSE, ...), or -1.
int tcp_state(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 ? info.tcpi_state : -1;
}

TEST(refusal_drain_test, refused_client_that_sent_at_once_is_closed_without_a_reset) {
  // One thread: what is tested is the refusal's drain, not the threads. With two threads
  // under ThreadSanitizer the stopped server's kernel sometimes never acknowledged the eager
  // bytes (2 runs in 25), which breaks this test's precondition, not the server's promise;
  // the cause is not found yet (docs/testing.md, known flakes).
  auto server =
      start_server({"--max-connections", "1", "--sink", "none", "--quiet", "--threads", "1"});
  auto holder = connect_greeted(server);
  ASSERT_TRUE(holder);

  // The server is stopped while the client connects and sends, so its input is certainly
  // waiting in the socket when the server accepts and refuses it: without that order, the
  // data could arrive after a correct close and draw a reset the server cannot prevent.
  ASSERT_TRUE(server.process().send_signal(SIGSTOP));
  auto eager = server.connect();  // the kernel completes the handshake from the backlog
  eager.send_all(repeat("eager line\n", k_eager_bytes / 11));
  // Loopback delivers within the send call, but may acknowledge up to a delayed-ACK timeout
  // later; the kernel offers no event for an acknowledgement, so its counter is polled.
  for (const deadline until(k_wait); unacknowledged_bytes(eager.fd()) != 0 && !until.expired();) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(unacknowledged_bytes(eager.fd()), 0);
  ASSERT_TRUE(server.process().send_signal(SIGCONT));

  EXPECT_EQ(eager.read_until_eof(k_wait), k_refusal);
  EXPECT_TRUE(eager.eof());
  EXPECT_FALSE(eager.was_reset());
  // A round trip on the other session: the server has finished the refusal, close included,
  // and on loopback a reset from that close would already have arrived.
  holder->send_all("still served\n");
  EXPECT_EQ(holder->read_line(k_wait), k_ack);
  // Closed by the server with a FIN only: the client's side waits for its own close. A reset
  // would have moved it to TCP_CLOSE and left an error on the socket.
  EXPECT_EQ(tcp_state(eager.fd()), TCP_CLOSE_WAIT) << "the refused connection was reset";
  int error = 0;
  socklen_t length = sizeof error;
  ASSERT_EQ(::getsockopt(eager.fd(), SOL_SOCKET, SO_ERROR, &error, &length), 0);
  EXPECT_EQ(error, 0) << std::error_code(error, std::system_category()).message();

  eager.close();
  holder->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

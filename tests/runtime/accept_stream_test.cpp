#include "runtime/accept_stream.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/socket.hpp"
#include "runtime/yield.hpp"

namespace ringline::runtime {
namespace {

// Each test runs twice: with the multishot request, and with single-shot accepts forced by
// the environment variable, which must behave the same.

class accept_stream_test : public ::testing::TestWithParam<accept_mode> {
 protected:
  void SetUp() override {
    ASSERT_EQ(::unsetenv("RINGLINE_MULTISHOT_ACCEPT"), 0);
    if (GetParam() == accept_mode::single_shot) {
      ASSERT_EQ(::setenv("RINGLINE_SINGLESHOT_ACCEPT", "1", 1), 0);
    } else {
      ASSERT_EQ(::unsetenv("RINGLINE_SINGLESHOT_ACCEPT"), 0);
    }
  }
  void TearDown() override { (void)::unsetenv("RINGLINE_SINGLESHOT_ACCEPT"); }

  [[nodiscard]] bool expect_multishot(const event_loop& loop) const {
    return GetParam() == accept_mode::multishot && loop.features().multishot_accept;
  }
};

struct listening {
  unique_fd fd;
  address where;
};

listening listen_on_loopback() {
  auto where = address::parse("127.0.0.1", 0);
  EXPECT_TRUE(where);
  auto listener = listen_tcp(*where);
  EXPECT_TRUE(listener) << listener.error().message();
  auto bound = local_address(listener->get());
  EXPECT_TRUE(bound);
  return {std::move(*listener), *bound};
}

// A blocking connect: on loopback it completes as soon as the connection is in the backlog,
// whether or not anything accepts it.
unique_fd connect_now(const address& where) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::connect(fd.get(), where.data(), where.size()), 0) << errno;
  return fd;
}

std::uint16_t local_port(int fd) {
  auto bound = local_address(fd);
  EXPECT_TRUE(bound);
  return bound ? bound->port() : 0;
}

// Returns true when the peer of `fd` has closed it (end of stream or a reset).
bool closed_by_peer(int fd) {
  char byte = 0;
  const auto got = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return got == 0 || (got < 0 && errno == ECONNRESET);
}

TEST_P(accept_stream_test, yields_connections_in_order_past_a_full_queue) {
  event_loop loop;
  const auto listener = listen_on_loopback();
  const bool multishot = expect_multishot(loop);
  // More than the queue holds: the multishot request pauses, then is armed again.
  constexpr std::size_t k_count = accept_stream::k_pause_at * 2 + 10;
  constexpr std::size_t k_late = 5;
  auto scenario = [](const listening* on, bool want_multishot) -> task<void> {
    accept_stream stream(on->fd.get());
    EXPECT_EQ(stream.multishot(), want_multishot);
    std::vector<unique_fd> clients;
    std::vector<std::uint16_t> sent_from;
    clients.push_back(connect_now(on->where));
    sent_from.push_back(local_port(clients.back().get()));
    auto first = co_await stream.next();
    EXPECT_TRUE(first) << first.error().message();
    EXPECT_EQ(stream.armed(), want_multishot);
    for (std::size_t i = 1; i < k_count; ++i) {
      clients.push_back(connect_now(on->where));
      sent_from.push_back(local_port(clients.back().get()));
    }
    if (want_multishot) {
      // Nobody waits on next(): the kernel's completions fill the queue until it pauses.
      for (int turns = 0; turns < 10'000 && stream.armed(); ++turns) {
        co_await yield();
      }
      EXPECT_FALSE(stream.armed());
      EXPECT_GE(stream.queued(), accept_stream::k_pause_at);
    }
    std::vector<std::uint16_t> accepted_from{first ? first->peer.port() : std::uint16_t{0}};
    std::vector<unique_fd> accepted;
    while (accepted_from.size() < k_count + k_late) {
      if (accepted_from.size() == k_count) {
        // Everything queued was taken: later connections need the request armed again.
        for (std::size_t i = 0; i < k_late; ++i) {
          clients.push_back(connect_now(on->where));
          sent_from.push_back(local_port(clients.back().get()));
        }
      }
      auto conn = co_await stream.next();
      if (!conn) {
        ADD_FAILURE() << conn.error().message();
        break;
      }
      accepted_from.push_back(conn->peer.port());
      EXPECT_EQ(local_port(conn->fd.get()), on->where.port());
      accepted.push_back(std::move(conn->fd));
    }
    EXPECT_EQ(accepted_from, sent_from);
    co_await stream.stop();
    EXPECT_FALSE(stream.armed());
  };
  loop.run(scenario(&listener, multishot));
  EXPECT_EQ(loop.in_flight(), 0U);
}

// Descriptors up to a lowered RLIMIT_NOFILE, held until destroyed; the limit is restored.
class descriptors_exhausted {
 public:
  descriptors_exhausted() {
    EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &m_saved), 0);
    rlimit low = m_saved;
    low.rlim_cur = std::min<rlim_t>(m_saved.rlim_cur, 1024);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    for (;;) {
      unique_fd fd(::dup(STDERR_FILENO));
      if (!fd) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      m_held.push_back(std::move(fd));
    }
  }
  descriptors_exhausted(const descriptors_exhausted&) = delete;
  descriptors_exhausted& operator=(const descriptors_exhausted&) = delete;
  ~descriptors_exhausted() {
    m_held.clear();
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &m_saved), 0);
  }

 private:
  rlimit m_saved{};
  std::vector<unique_fd> m_held;
};

TEST_P(accept_stream_test, an_error_ends_the_request_and_the_next_call_arms_it_again) {
  event_loop loop;
  const auto listener = listen_on_loopback();
  auto scenario = [](const listening* on) -> task<void> {
    accept_stream stream(on->fd.get());
    const auto client = connect_now(on->where);
    // Checked once descriptors are back: UBSan's vptr check needs one (a pipe) to compare
    // error codes.
    std::error_code error;
    bool armed_after_error = true;
    {
      const descriptors_exhausted exhausted;
      // The kernel cannot install a descriptor: the request completes without F_MORE.
      auto failed = co_await stream.next();
      if (!failed) {
        error = failed.error();
      }
      armed_after_error = stream.armed();
    }
    EXPECT_EQ(error, std::errc::too_many_files_open) << error.message();
    EXPECT_FALSE(armed_after_error);
    // The connection waited in the backlog; the next call arms the request again.
    auto conn = co_await stream.next();
    if (!conn) {
      ADD_FAILURE() << "conn failed: " << conn.error().message();
      co_return;
    }
    EXPECT_EQ(conn->peer.port(), local_port(client.get()));
    co_await stream.stop();
  };
  loop.run(scenario(&listener));
  EXPECT_EQ(loop.in_flight(), 0U);
}

TEST_P(accept_stream_test, cancellation_ends_it_and_closes_queued_connections) {
  event_loop loop;
  const auto listener = listen_on_loopback();
  cancellation cancel;
  auto scenario = [](const listening* on, cancellation* to_cancel) -> task<void> {
    accept_stream stream(on->fd.get(), to_cancel);
    std::vector<unique_fd> clients;
    clients.push_back(connect_now(on->where));
    auto first = co_await stream.next();
    if (!first) {
      ADD_FAILURE() << "first failed: " << first.error().message();
      co_return;
    }
    // Two more arrive; a multishot request queues them while nobody waits.
    clients.push_back(connect_now(on->where));
    clients.push_back(connect_now(on->where));
    for (int turns = 0; turns < 10'000 && stream.armed() && stream.queued() < 2; ++turns) {
      co_await yield();
    }
    event_loop::current().spawn([](cancellation* c) -> task<void> {
      c->request();
      co_return;
    }(to_cancel));
    co_await yield();  // the spawned task runs: cancellation requested while armed (multishot)
    auto ended = co_await stream.next();
    if (ended) {
      ADD_FAILURE() << "ended succeeded, an error was expected";
      co_return;
    }
    EXPECT_EQ(ended.error(), std::errc::operation_canceled);
    EXPECT_FALSE(stream.armed());
    EXPECT_EQ(stream.queued(), 0U);
    // What was queued is closed, never handed out; a single-shot stream never took them.
    EXPECT_FALSE(closed_by_peer(clients[0].get()));
    const bool multishot = stream.multishot();
    EXPECT_EQ(closed_by_peer(clients[1].get()), multishot);
    EXPECT_EQ(closed_by_peer(clients[2].get()), multishot);
    // Later calls end at once.
    auto again = co_await stream.next();
    if (again) {
      ADD_FAILURE() << "again succeeded, an error was expected";
      co_return;
    }
    EXPECT_EQ(again.error(), std::errc::operation_canceled);
  };
  loop.run(scenario(&listener, &cancel));
  EXPECT_EQ(loop.in_flight(), 0U);
}

TEST_P(accept_stream_test, stop_disarms_a_stream_nobody_waits_on) {
  event_loop loop;
  const auto listener = listen_on_loopback();
  const bool multishot = expect_multishot(loop);
  auto scenario = [](const listening* on, bool want_multishot) -> task<void> {
    accept_stream stream(on->fd.get());
    const auto client = connect_now(on->where);
    auto conn = co_await stream.next();
    if (!conn) {
      ADD_FAILURE() << "conn failed: " << conn.error().message();
      co_return;
    }
    EXPECT_EQ(stream.armed(), want_multishot);
    co_await stream.stop();
    EXPECT_FALSE(stream.armed());
    EXPECT_EQ(event_loop::current().in_flight(), 0U);
  };
  loop.run(scenario(&listener, multishot));
}

/// What a waiting coroutine's frame saw as it was destroyed: whether it was, whether its
/// accept_stream still held a kernel request then, and what the loop still had in flight.
struct frame_end {
  bool destroyed = false;
  bool armed = false;
  std::size_t in_flight = 0;
};

/// Lives in the frame after the stream, so it is destroyed before the stream and records
/// what the stream's destructor is about to face.
class frame_end_probe {
 public:
  frame_end_probe(const accept_stream& stream, const event_loop& loop, frame_end* end) noexcept
      : m_stream(stream), m_loop(loop), m_end(end) {}
  frame_end_probe(const frame_end_probe&) = delete;
  frame_end_probe& operator=(const frame_end_probe&) = delete;
  ~frame_end_probe() { *m_end = {true, m_stream.armed(), m_loop.in_flight()}; }

 private:
  const accept_stream& m_stream;
  const event_loop& m_loop;
  frame_end* m_end;
};

task<void> wait_for_nobody(int fd, frame_end* end) {
  accept_stream stream(fd);
  const frame_end_probe probe(stream, event_loop::current(), end);
  (void)co_await stream.next();
  ADD_FAILURE() << "nothing connects; the loop's destruction must not resume it";
}

TEST_P(accept_stream_test, a_loop_destroyed_while_it_waits_drains_it_first) {
  const auto listener = listen_on_loopback();
  frame_end end;
  {
    event_loop loop;
    loop.spawn(wait_for_nobody(listener.fd.get(), &end));
    auto started = []() -> task<void> { co_await yield(); };
    loop.run(started());
    ASSERT_EQ(loop.in_flight(), 1U);
  }
  // The loop destroyed the frame (it did not leak it), and only after the kernel's last
  // completion for its request: the kernel would otherwise write into freed memory.
  EXPECT_TRUE(end.destroyed);
  EXPECT_FALSE(end.armed) << "the frame died while the kernel held its accept request";
  EXPECT_EQ(end.in_flight, 0U);
}

TEST(accept_stream_mode_test, the_owner_prefers_a_mode_and_the_environment_overrides_it) {
  event_loop loop;
  const auto listener = listen_on_loopback();
  const bool kernel = loop.features().multishot_accept;
  ASSERT_EQ(::unsetenv("RINGLINE_SINGLESHOT_ACCEPT"), 0);
  ASSERT_EQ(::unsetenv("RINGLINE_MULTISHOT_ACCEPT"), 0);
  EXPECT_EQ(accept_stream(listener.fd.get()).multishot(), kernel);
  EXPECT_FALSE(accept_stream(listener.fd.get(), nullptr, accept_mode::single_shot).multishot());
  ASSERT_EQ(::setenv("RINGLINE_MULTISHOT_ACCEPT", "1", 1), 0);
  EXPECT_EQ(accept_stream(listener.fd.get(), nullptr, accept_mode::single_shot).multishot(),
            kernel);
  ASSERT_EQ(::setenv("RINGLINE_SINGLESHOT_ACCEPT", "1", 1), 0);
  EXPECT_FALSE(accept_stream(listener.fd.get(), nullptr, accept_mode::multishot).multishot());
  (void)::unsetenv("RINGLINE_SINGLESHOT_ACCEPT");
  (void)::unsetenv("RINGLINE_MULTISHOT_ACCEPT");
}

std::string mode_name(const ::testing::TestParamInfo<accept_mode>& param) {
  return param.param == accept_mode::multishot ? "multishot" : "single_shot";
}

INSTANTIATE_TEST_SUITE_P(modes, accept_stream_test,
                         ::testing::Values(accept_mode::multishot, accept_mode::single_shot),
                         mode_name);

}  // namespace
}  // namespace ringline::runtime

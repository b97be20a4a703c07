#include "runtime/buffer_ring.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"

namespace ringline::runtime {
namespace {

struct socket_pair {
  unique_fd left;
  unique_fd right;
};

socket_pair make_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

void write_text(int fd, std::string_view text) {
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// With a ring of one buffer, the second receive works only because the first lease ended.
task<std::vector<std::string>> receive_twice(int in, int out, buffer_ring* pool) {
  std::vector<std::string> texts;
  write_text(out, "one");
  auto first = co_await recv_pooled(in, *pool);
  EXPECT_TRUE(first);
  EXPECT_EQ(pool->lent(), 1U);
  texts.emplace_back(first->data().begin(), first->data().end());
  first->reset();
  EXPECT_EQ(pool->lent(), 0U);
  write_text(out, "two");
  auto second = co_await recv_pooled(in, *pool);
  EXPECT_TRUE(second);
  if (second) {
    texts.emplace_back(second->data().begin(), second->data().end());
  }
  co_return texts;
}

TEST(buffer_ring_test, receives_into_a_lent_buffer_and_takes_it_back) {
  event_loop loop;
  auto pool = loop.run([]() -> task<result<std::unique_ptr<buffer_ring>>> {
    co_return buffer_ring::create(4, 64);
  }());
  ASSERT_TRUE(pool) << pool.error().message();
  auto pair = make_pair();
  write_text(pair.left.get(), "hello");
  auto texts = loop.run([](int fd, buffer_ring* ring) -> task<std::vector<std::string>> {
    auto got = co_await recv_pooled(fd, *ring);
    EXPECT_TRUE(got);
    EXPECT_EQ(ring->lent(), 1U);
    std::vector<std::string> out{std::string(got->data().begin(), got->data().end())};
    co_return out;
  }(pair.right.get(), pool->get()));
  EXPECT_EQ(texts, std::vector<std::string>{"hello"});
  EXPECT_EQ((*pool)->lent(), 0U);  // the lease ended with the coroutine
}

TEST(buffer_ring_test, a_lease_ended_early_frees_its_buffer_at_once) {
  event_loop loop;
  auto pool = loop.run([]() -> task<result<std::unique_ptr<buffer_ring>>> {
    co_return buffer_ring::create(1, 16);
  }());
  ASSERT_TRUE(pool);
  auto pair = make_pair();
  const auto texts = loop.run(receive_twice(pair.right.get(), pair.left.get(), pool->get()));
  EXPECT_EQ(texts, (std::vector<std::string>{"one", "two"}));
}

TEST(buffer_ring_test, end_of_stream_lends_nothing) {
  event_loop loop;
  auto pool = loop.run([]() -> task<result<std::unique_ptr<buffer_ring>>> {
    co_return buffer_ring::create(2, 64);
  }());
  ASSERT_TRUE(pool);
  auto pair = make_pair();
  pair.left.reset();
  auto empty = loop.run([](int fd, buffer_ring* ring) -> task<bool> {
    auto got = co_await recv_pooled(fd, *ring);
    co_return got && got->data().empty() && ring->lent() == 0;
  }(pair.right.get(), pool->get()));
  EXPECT_TRUE(empty);
}

TEST(buffer_ring_test, buffers_are_reused_and_exhaustion_is_an_error) {
  event_loop loop;
  auto pool = loop.run([]() -> task<result<std::unique_ptr<buffer_ring>>> {
    co_return buffer_ring::create(2, 8);
  }());
  ASSERT_TRUE(pool);
  auto pair = make_pair();
  auto outcome = loop.run([](int in, int out, buffer_ring* ring) -> task<std::error_code> {
    // Ten receives through a ring of two: every buffer given back is used again.
    for (int i = 0; i < 10; ++i) {
      write_text(out, "0123");
      auto got = co_await recv_pooled(in, *ring);
      EXPECT_TRUE(got);
      EXPECT_EQ(std::string(got->data().begin(), got->data().end()), "0123");
    }
    // Hold both buffers: the third receive finds none.
    write_text(out, "abcdefgh");
    auto first = co_await recv_pooled(in, *ring);
    write_text(out, "ijklmnop");
    auto second = co_await recv_pooled(in, *ring);
    EXPECT_TRUE(first && second);
    EXPECT_EQ(ring->lent(), 2U);
    write_text(out, "q");
    auto third = co_await recv_pooled(in, *ring);
    co_return third ? std::error_code() : third.error();
  }(pair.right.get(), pair.left.get(), pool->get()));
  EXPECT_EQ(outcome, std::errc::no_buffer_space);
  EXPECT_EQ((*pool)->lent(), 0U);
}

TEST(buffer_ring_test, pooled_receive_keeps_its_buffer_selection_under_a_timeout) {
  event_loop loop;
  auto pool = loop.run([]() -> task<result<std::unique_ptr<buffer_ring>>> {
    co_return buffer_ring::create(2, 32);
  }());
  ASSERT_TRUE(pool);
  auto pair = make_pair();
  write_text(pair.left.get(), "timely");
  auto outcome = loop.run([](int in, buffer_ring* ring) -> task<std::string> {
    using namespace std::chrono_literals;
    auto got = co_await recv_pooled(in, *ring, {.timeout = 10s, .cancel = nullptr});
    EXPECT_TRUE(got) << got.error().message();
    std::string text = got ? std::string(got->data().begin(), got->data().end()) : "";
    got = co_await recv_pooled(in, *ring, {.timeout = 20ms, .cancel = nullptr});
    EXPECT_FALSE(got);
    if (!got) {
      text += " then " + got.error().message();
    }
    co_return text;
  }(pair.right.get(), pool->get()));
  EXPECT_EQ(outcome, "timely then " + std::make_error_code(std::errc::timed_out).message());
}

}  // namespace
}  // namespace ringline::runtime

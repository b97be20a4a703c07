// One event loop per thread, sharing nothing: loops on different threads run side by side
// without touching each other's state. Built under ThreadSanitizer in CI, this is where the
// runtime's thread-local state (current loop, trampoline slot) is checked for races.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"

namespace ringline::runtime {
namespace {

// Echo pairs of coroutines over a socket pair: one writes `rounds` messages, the other reads.
task<int> ping_pong(int rounds) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  unique_fd left(fds[0]);
  unique_fd right(fds[1]);
  auto& loop = event_loop::current();
  loop.spawn([](int fd, int count) -> task<void> {
    for (int i = 0; i < count; ++i) {
      auto sent = co_await send_all(fd, std::string_view("ping"));
      EXPECT_TRUE(sent);
      (void)co_await sleep_for(std::chrono::microseconds(10));
    }
  }(left.get(), rounds));
  int received = 0;
  char buffer[64];
  std::size_t bytes = 0;
  while (bytes < static_cast<std::size_t>(rounds) * 4) {
    auto got = co_await recv_some(right.get(), buffer);
    if (!got || *got == 0) {
      break;
    }
    bytes += *got;
  }
  received = static_cast<int>(bytes / 4);
  co_await loop.wait_for_spawned();
  co_return received;
}

TEST(threads_test, loops_on_separate_threads_run_independently) {
  constexpr int k_threads = 4;
  constexpr int k_rounds = 200;
  std::vector<int> results(k_threads, -1);
  std::vector<std::thread> threads;
  threads.reserve(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&results, t] {
      event_loop loop;
      results[static_cast<std::size_t>(t)] = loop.run(ping_pong(k_rounds));
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int result : results) {
    EXPECT_EQ(result, k_rounds);
  }
}

}  // namespace
}  // namespace ringline::runtime

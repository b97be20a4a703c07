// One event loop per thread, sharing nothing: loops on different threads run side by side
// without touching each other's state. Built under ThreadSanitizer in CI, this is where the
// runtime's thread-local state (current loop, trampoline slot) is checked for races.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <fstream>
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

/// Returns how many of this process's mappings are io_uring rings. Reading a file is no
/// synchronisation ThreadSanitizer knows of, which is what the test below needs.
int ring_mappings() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    count += line.find("anon_inode:[io_uring]") != std::string::npos ? 1 : 0;
  }
  return count;
}

TEST(threads_test, a_ring_mapped_where_another_threads_ring_was_is_no_race) {
  // The second loop's ring is mapped once the first one's is gone, with nothing between the
  // threads that ThreadSanitizer sees as ordering them: the kernel hands out the same
  // addresses again, and liburing's raw mmap hides that from it. The rings' own lock must.
  // The first thread says that its ring exists through a relaxed atomic, which orders nothing
  // for ThreadSanitizer: the second thread often starts after that ring is already gone and
  // would never see it in /proc/self/maps, and then waited out the whole deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::atomic<bool> first_mapped{false};
  int first = -1;
  int second = -1;
  std::thread first_thread([&first, &first_mapped] {
    event_loop loop(event_loop_options{.backend = backend_kind::io_uring});  // rings only
    first_mapped.store(true, std::memory_order_relaxed);
    first = loop.run(ping_pong(20));
  });
  std::thread second_thread([&second, &first_mapped, deadline] {
    bool seen = false;
    while (std::chrono::steady_clock::now() < deadline) {
      const int rings = ring_mappings();
      seen = seen || rings > 0 || first_mapped.load(std::memory_order_relaxed);
      if (seen && rings == 0) {
        break;
      }
      std::this_thread::yield();
    }
    event_loop loop(event_loop_options{.backend = backend_kind::io_uring});  // rings only
    second = loop.run(ping_pong(20));
  });
  first_thread.join();
  second_thread.join();
  EXPECT_EQ(first, 20);
  EXPECT_EQ(second, 20);
}

}  // namespace
}  // namespace ringline::runtime

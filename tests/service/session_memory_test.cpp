// What a session costs and what its failures cost others. What an idle session keeps: whatever it
// handled before (a burst of pipelined lines, lines near --max-line-bytes), once it waits for input
// again it holds no more heap than a fresh session. Live heap bytes are counted by replacing the
// global allocation functions in this executable, so the numbers are exact and do not depend on how
// malloc returns memory to the system.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/frame_cache.hpp"
#include "runtime/io.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"
#include "tests/support/unique_fd.hpp"

namespace {
std::atomic<long long> g_live_bytes{0};
// Allocations of this many bytes or more fail with bad_alloc (0: none fails).
std::atomic<std::size_t> g_fail_from_bytes{0};

// Each block carries its size in front, so delete knows what it frees.
constexpr std::size_t k_header = alignof(std::max_align_t);

void* counted_allocate(std::size_t size) {
  const auto limit = g_fail_from_bytes.load();
  if (limit != 0 && size >= limit) {
    throw std::bad_alloc();
  }
  auto* block = static_cast<unsigned char*>(std::malloc(size + k_header));
  if (block == nullptr) {
    throw std::bad_alloc();
  }
  *reinterpret_cast<std::size_t*>(block) = size;
  g_live_bytes += static_cast<long long>(size);
  return block + k_header;
}

void counted_free(void* pointer) noexcept {
  if (pointer == nullptr) {
    return;
  }
  auto* block = static_cast<unsigned char*>(pointer) - k_header;
  g_live_bytes -= static_cast<long long>(*reinterpret_cast<std::size_t*>(block));
  std::free(block);
}
}  // namespace

void* operator new(std::size_t size) {
  return counted_allocate(size);
}
void* operator new[](std::size_t size) {
  return counted_allocate(size);
}
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  try {
    return counted_allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* pointer) noexcept {
  counted_free(pointer);
}
void operator delete[](void* pointer) noexcept {
  counted_free(pointer);
}
void operator delete(void* pointer, std::size_t /*size*/) noexcept {
  counted_free(pointer);
}
void operator delete[](void* pointer, std::size_t /*size*/) noexcept {
  counted_free(pointer);
}

namespace ringline::service {
namespace {

// The bound docs/operations.md gives for an idle session's heap, whatever it handled before:
// an idle session keeps no coroutine frame, only its parked receive and its registration.
constexpr long long k_idle_session_bound = 512;
constexpr std::size_t k_sessions = 200;

struct measurement {
  long long fresh_per_session = 0;
  long long after_burst_per_session = 0;
  long long shared = 0;  // what the first session set up for all
};

config test_config() {
  config settings;
  settings.greeting = "connect";
  settings.ack = "ok";
  settings.log_connections = false;
  return settings;
}

// Reads from `fd` until `count` acks ("ok\n") have arrived.
runtime::task<bool> read_acks(int fd, std::size_t count) {
  std::vector<char> buffer(std::size_t{64} * 1024);
  std::size_t bytes = 0;
  while (bytes < count * 3) {
    auto got = co_await runtime::recv_some(fd, buffer);
    if (!got || *got == 0) {
      co_return false;
    }
    bytes += *got;
  }
  co_return bytes == count * 3;
}

// The heap bytes in use, but for the frames this thread keeps for reuse: a bounded amount
// per thread (runtime/frame_cache.hpp), not per session.
long long live_bytes() {
  return g_live_bytes.load() - static_cast<long long>(runtime::detail::kept_frame_bytes());
}

runtime::task<void> measure(measurement* out) {
  auto& loop = runtime::event_loop::current();
  auto lines = std::move(*sink::open("none"));
  server running(test_config(), *lines);
  loop.spawn(lines->run());
  std::vector<test_support::unique_fd> clients;
  std::vector<char> greeting(8);

  // What every session shares (the receive buffer ring) is set up by the first session: one
  // is served before counting starts.
  const long long before_warm_up = live_bytes();
  for (std::size_t i = 0; i < k_sessions + 1; ++i) {
    if (i == 1) {
      out->shared = live_bytes() - before_warm_up;
    }
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    running.adopt(runtime::unique_fd(pair[0]), runtime::address());
    clients.emplace_back(pair[1]);
    auto got = co_await runtime::recv_some(pair[1], greeting);
    EXPECT_TRUE(got && *got == 8);
  }
  // One line each, acked: greeted, served, now waiting.
  for (auto& client : clients) {
    EXPECT_TRUE(co_await runtime::send_all(client.get(), std::string("one\n")));
    EXPECT_TRUE(co_await read_acks(client.get(), 1));
  }
  const long long fresh = live_bytes() - out->shared;

  // A burst: 16,384 empty lines in one send, then two lines near the limit that span many
  // receives, and the start of a line that stays unfinished.
  {
    const std::string burst(16'384, '\n');
    const std::string long_lines =
        std::string(65'000, 'x') + "\n" + std::string(65'000, 'y') + "\n";
    for (auto& client : clients) {
      EXPECT_TRUE(co_await runtime::send_all(client.get(), burst));
      EXPECT_TRUE(co_await runtime::send_all(client.get(), long_lines));
      EXPECT_TRUE(co_await read_acks(client.get(), 16'384 + 2));
      EXPECT_TRUE(co_await runtime::send_all(client.get(), std::string("unfinished")));
    }
  }
  // The sessions have framed the unfinished lines once this round trip is over.
  for (auto& client : clients) {
    EXPECT_TRUE(co_await runtime::send_all(client.get(), std::string(" still\n")));
    EXPECT_TRUE(co_await read_acks(client.get(), 1));
  }
  const long long after = live_bytes() - out->shared;
  const long long before = before_warm_up;
  out->fresh_per_session = (fresh - before) / static_cast<long long>(k_sessions);
  out->after_burst_per_session = (after - before) / static_cast<long long>(k_sessions);

  clients.clear();  // EOF for every session
  co_await running.wait_for_sessions();
  lines->stop();
  co_await loop.wait_for_spawned();
}

TEST(session_memory_test, idle_session_returns_to_a_small_bound_after_a_burst) {
  measurement result;
  {
    runtime::event_loop loop;
    loop.run(measure(&result));
  }
  RecordProperty("fresh_bytes_per_session", std::to_string(result.fresh_per_session));
  RecordProperty("after_burst_bytes_per_session", std::to_string(result.after_burst_per_session));
  EXPECT_LE(result.fresh_per_session, k_idle_session_bound);
  EXPECT_LE(result.after_burst_per_session, k_idle_session_bound);
  // Nothing of the burst stays: at most a few bytes of bookkeeping differ.
  EXPECT_LE(result.after_burst_per_session, result.fresh_per_session + 64)
      << "fresh " << result.fresh_per_session << " after burst " << result.after_burst_per_session;
}

// One session runs out of memory framing a long line; another, and the server, go on.
runtime::task<void> exhaust_one_session(std::string* doomed_reply, std::string* other_reply) {
  auto& loop = runtime::event_loop::current();
  auto lines = std::move(*sink::open("none"));
  auto settings = test_config();
  settings.max_line_bytes = std::size_t{8} << 20;
  server running(settings, *lines);
  loop.spawn(lines->run());
  int doomed[2];
  int other[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, doomed), 0);
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other), 0);
  const test_support::unique_fd doomed_client(doomed[1]);
  const test_support::unique_fd other_client(other[1]);
  running.adopt(runtime::unique_fd(doomed[0]), runtime::address());
  running.adopt(runtime::unique_fd(other[0]), runtime::address());
  std::vector<char> buffer(std::size_t{64} * 1024);
  for (const int fd : {doomed[1], other[1]}) {
    auto got = co_await runtime::recv_some(fd, {buffer.data(), 8});
    EXPECT_TRUE(got && *got == 8);
  }

  g_fail_from_bytes = std::size_t{1} << 20;
  {
    // 2 MiB without a newline: the unfinished line outgrows what may be allocated.
    const std::string part(std::size_t{256} * 1024, 'x');
    for (int i = 0; i < 8; ++i) {
      if (!co_await runtime::send_all(doomed[1], part)) {
        break;  // the session has ended and closed
      }
    }
  }
  ::shutdown(doomed[1], SHUT_WR);
  for (;;) {
    auto got = co_await runtime::recv_some(doomed[1], buffer);
    if (!got || *got == 0) {
      break;
    }
    doomed_reply->append(buffer.data(), *got);
  }
  g_fail_from_bytes = 0;

  EXPECT_TRUE(co_await runtime::send_all(other[1], std::string("still here\n")));
  auto got = co_await runtime::recv_some(other[1], buffer);
  if (got) {
    other_reply->assign(buffer.data(), *got);
  }
  ::shutdown(other[1], SHUT_WR);
  co_await running.wait_for_sessions();
  EXPECT_EQ(running.counters().internal_errors, 1U);
  lines->stop();
  co_await loop.wait_for_spawned();
}

TEST(session_memory_test, out_of_memory_in_one_session_ends_only_that_session) {
  std::string doomed_reply;
  std::string other_reply;
  {
    runtime::event_loop loop;
    loop.run(exhaust_one_session(&doomed_reply, &other_reply));  // throws nothing
  }
  EXPECT_EQ(doomed_reply, "error: internal error\n");
  EXPECT_EQ(other_reply, "ok\n");
}

}  // namespace
}  // namespace ringline::service

// A worker thread whose loop throws must be reported to the main thread and counted as done,
// so that the shutdown neither waits for it nor hangs (the server then exits 1).
#include "service/worker_threads.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

struct outcome {
  bool reported = false;
  std::string failure;
};

runtime::task<outcome> start_with_a_listener_that_is_no_socket(worker_threads& workers,
                                                               runtime::inbox& mailbox,
                                                               std::vector<int> fds) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(mailbox.run());
  runtime::cancellation failed;
  workers.start(2, fds, failed);
  // Requested by the first failure report; the timeout only bounds a broken build (under the
  // test's own, so that one fails with what is known).
  const bool timed_out = static_cast<bool>(co_await runtime::sleep_for(10s, &failed));
  workers.stop();
  co_await workers.wait_for_sessions();  // failed workers count as done: no hang here
  workers.finish_and_join();
  mailbox.close();
  co_await loop.wait_for_spawned();
  co_return outcome{.reported = !timed_out, .failure = workers.failure()};
}

TEST(worker_threads_test, a_worker_that_fails_is_reported_and_never_waited_for) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  auto lines = sink::open("none");
  ASSERT_TRUE(lines);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  // A pipe is no listening socket: each worker's server fails to take it, and throws.
  runtime::event_loop loop;
  runtime::inbox mailbox;
  server_shared shared;
  outcome result;
  {
    worker_threads workers(settings, **lines, mailbox, shared);
    result = loop.run(start_with_a_listener_that_is_no_socket(workers, mailbox, {fds[0]}));
  }
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_TRUE(result.reported);
  EXPECT_NE(result.failure.find("thread "), std::string::npos) << result.failure;
}

TEST(worker_threads_test, every_worker_takes_a_duplicate_of_every_listener) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  settings.host = "127.0.0.1";
  settings.port = 0;
  auto lines = sink::open("none");
  ASSERT_TRUE(lines);
  auto listener = server::open_listener(settings);
  ASSERT_TRUE(listener) << listener.error().message();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  // The second "listener" is a pipe: a worker that took only the first would serve it
  // quietly; one that takes every listener fails on the pipe, which the main thread hears of.
  runtime::event_loop loop;
  runtime::inbox mailbox;
  server_shared shared;
  outcome result;
  {
    worker_threads workers(settings, **lines, mailbox, shared);
    result = loop.run(
        start_with_a_listener_that_is_no_socket(workers, mailbox, {listener->get(), fds[0]}));
  }
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_TRUE(result.reported);
  EXPECT_NE(result.failure.find("listener"), std::string::npos) << result.failure;
}

}  // namespace
}  // namespace ringline::service

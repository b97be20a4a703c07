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

// Starts two workers on `listeners`, the last of which is the read end of a pipe (a listener
// no server can take), on a loop of the test's own; returns what the main thread heard.
outcome start_workers_on(const config& settings, std::vector<int> listeners) {
  auto lines = sink::open("none");
  EXPECT_TRUE(lines);
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  listeners.push_back(fds[0]);
  runtime::event_loop loop;
  runtime::inbox mailbox;
  server_shared shared;
  outcome result;
  {
    worker_threads workers(settings, **lines, mailbox, shared);
    result = loop.run(start_with_a_listener_that_is_no_socket(workers, mailbox, listeners));
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return result;
}

TEST(worker_threads_test, a_worker_that_fails_is_reported_and_never_waited_for) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  // A pipe is no listening socket: each worker's server fails to take it, and throws.
  const outcome result = start_workers_on(settings, {});
  EXPECT_TRUE(result.reported);
  EXPECT_NE(result.failure.find("thread "), std::string::npos) << result.failure;
}

TEST(worker_threads_test, every_worker_takes_a_duplicate_of_every_listener) {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  settings.host = "127.0.0.1";
  settings.port = 0;
  auto listener = server::open_listener(settings);
  ASSERT_TRUE(listener) << listener.error().message();
  // The second "listener" is a pipe: a worker that took only the first would serve it
  // quietly; one that takes every listener fails on the pipe, which the main thread hears of.
  const outcome result = start_workers_on(settings, {listener->get()});
  EXPECT_TRUE(result.reported);
  EXPECT_NE(result.failure.find("listener"), std::string::npos) << result.failure;
}

}  // namespace
}  // namespace ringline::service

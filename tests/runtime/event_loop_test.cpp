#include "runtime/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

#include "runtime/cancellation.hpp"
#include "runtime/io.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;

task<int> sleep_then(int value) {
  auto slept = co_await sleep_for(1ms);
  EXPECT_TRUE(slept) << slept.error().message();
  co_return value;
}

TEST(event_loop_test, run_returns_the_value_of_an_asynchronous_task) {
  event_loop loop;
  EXPECT_EQ(loop.run(sleep_then(5)), 5);
  EXPECT_EQ(loop.in_flight(), 0U);
}

TEST(event_loop_test, reports_setup_mode) {
  event_loop loop;
  EXPECT_FALSE(loop.features().setup_mode.empty());
}

task<void> append_after_sleep(std::vector<int>* order, int value, std::chrono::milliseconds delay) {
  (void)co_await sleep_for(delay);
  order->push_back(value);
}

task<void> spawn_and_wait(std::vector<int>* order) {
  auto& loop = event_loop::current();
  loop.spawn(append_after_sleep(order, 2, 20ms));
  loop.spawn(append_after_sleep(order, 1, 1ms));
  EXPECT_EQ(loop.spawned_count(), 2U);
  co_await loop.wait_for_spawned();
  order->push_back(3);
}

TEST(event_loop_test, spawned_tasks_run_concurrently_and_can_be_awaited) {
  event_loop loop;
  std::vector<int> order;
  loop.run(spawn_and_wait(&order));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.spawned_count(), 0U);
}

task<void> wait_forever_on(int fd, std::shared_ptr<int> /*held*/) {
  char byte = 0;
  (void)co_await recv_some(fd, {&byte, 1});
  ADD_FAILURE() << "resumed during shutdown";
}

TEST(event_loop_test, destruction_cancels_pending_operations_and_frees_spawned_frames) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  unique_fd left(fds[0]), right(fds[1]);
  auto held = std::make_shared<int>(1);
  {
    event_loop loop;
    loop.spawn(wait_forever_on(left.get(), held));
    loop.run(sleep_then(0));
    EXPECT_EQ(held.use_count(), 2);
    EXPECT_GE(loop.in_flight(), 1U);
  }
  EXPECT_EQ(held.use_count(), 1);
}

task<void> throw_later() {
  (void)co_await sleep_for(1ms);
  throw std::runtime_error("spawned failure");
}

task<void> outlive(std::chrono::milliseconds delay) {
  (void)co_await sleep_for(delay);
}

TEST(event_loop_test, exception_in_spawned_task_reaches_run) {
  event_loop loop;
  loop.spawn(throw_later());
  EXPECT_THROW(loop.run(outlive(10s)), std::runtime_error);
}

struct never {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

task<void> wait_for_nothing() {
  co_await never{};
}

TEST(event_loop_test, run_reports_a_task_that_can_never_finish) {
  event_loop loop;
  EXPECT_THROW(loop.run(wait_for_nothing()), std::logic_error);
}

struct yield_awaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> self) const { event_loop::current().post(self); }
  void await_resume() const noexcept {}
};

task<void> count_yields(int* counter, int times) {
  for (int i = 0; i < times; ++i) {
    co_await yield_awaiter{};
    ++*counter;
  }
}

TEST(event_loop_test, posted_coroutines_interleave_fairly) {
  event_loop loop;
  int first = 0;
  int second = 0;
  auto both = [](int* a, int* b) -> task<void> {
    auto& current = event_loop::current();
    current.spawn(count_yields(a, 1000));
    current.spawn(count_yields(b, 1000));
    co_await yield_awaiter{};
    co_await yield_awaiter{};
    EXPECT_GT(*a, 0);
    EXPECT_GT(*b, 0);
    co_await current.wait_for_spawned();
  };
  loop.run(both(&first, &second));
  EXPECT_EQ(first, 1000);
  EXPECT_EQ(second, 1000);
}

task<void> receive_with_timeout(int fd, std::error_code* outcome) {
  char byte = 0;
  auto got = co_await recv_some(fd, {&byte, 1}, io_options{.timeout = 50ms, .cancel = nullptr});
  *outcome = got ? std::error_code() : got.error();
}

task<void> fill_the_queue(std::vector<int> fds, std::vector<std::error_code>* outcomes) {
  auto& loop = event_loop::current();
  for (std::size_t i = 0; i < fds.size(); ++i) {
    loop.spawn(receive_with_timeout(fds[i], &(*outcomes)[i]));
  }
  co_await loop.wait_for_spawned();
}

TEST(event_loop_test, linked_timeouts_survive_a_full_submission_queue) {
  // Four entries and five receives, each with its timeout: eleven SQEs in one turn, so the
  // queue is flushed mid-turn, and no receive may be parted from its timeout by that.
  event_loop loop(event_loop_options{.queue_depth = 4});
  std::vector<unique_fd> ends;
  std::vector<int> readers;
  for (int i = 0; i < 5; ++i) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ends.emplace_back(fds[0]);
    ends.emplace_back(fds[1]);
    readers.push_back(fds[1]);
  }
  std::vector<std::error_code> outcomes(readers.size());
  loop.run(fill_the_queue(readers, &outcomes));
  for (const auto& outcome : outcomes) {
    EXPECT_EQ(outcome, std::errc::timed_out);
  }
}

// The cancellation is a parameter, so it lives in the frame until the frame is destroyed
// (locals die earlier, while the exception unwinds the body: spawned tasks must never refer
// to those past the body's end, and the code that spawns them makes sure of it).
task<void> fail_while_a_spawned_task_uses_my_frame(int fd, std::unique_ptr<cancellation> mine) {
  event_loop::current().spawn([](int in, cancellation* cancel) -> task<void> {
    char byte = 0;
    (void)co_await recv_some(in, {&byte, 1}, io_options{.timeout = {}, .cancel = cancel});
  }(fd, mine.get()));
  (void)co_await sleep_for(1ms);
  throw std::runtime_error("main fails");
}

TEST(event_loop_test, a_failed_main_task_outlives_the_spawned_tasks_that_use_it) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  unique_fd left(fds[0]), right(fds[1]);
  event_loop loop;
  // Under ASan this is a use-after-free if the main frame dies first.
  EXPECT_THROW(loop.run(fail_while_a_spawned_task_uses_my_frame(right.get(),
                                                                std::make_unique<cancellation>())),
               std::runtime_error);
  EXPECT_EQ(loop.spawned_count(), 0U);
}

}  // namespace
}  // namespace ringline::runtime

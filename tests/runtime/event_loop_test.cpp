#include "runtime/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "runtime/cancellation.hpp"
#include "runtime/io.hpp"
#include "runtime/unique_fd.hpp"
#include "runtime/yield.hpp"

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;

struct socket_ends {
  unique_fd left;
  unique_fd right;
};

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

task<void> count_yields(int* counter, int times) {
  for (int i = 0; i < times; ++i) {
    co_await yield();
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
    co_await yield();
    co_await yield();
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

std::vector<socket_ends> make_socket_pairs(std::size_t count) {
  std::vector<socket_ends> pairs;
  for (std::size_t i = 0; i < count; ++i) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    pairs.push_back({unique_fd(fds[0]), unique_fd(fds[1])});
  }
  return pairs;
}

// Four operations in a row, each completing at once: a poll and a receive of data already
// there, a timer, and a receive of data the test sends only after every worker waits.
task<void> poll_receive_sleep_receive(int fd, char first, char second, int* finished,
                                      std::vector<int>* polled, int index) {
  auto readable = co_await poll_readable(fd);
  EXPECT_TRUE(readable) << readable.error().message();
  polled->push_back(index);
  char byte = 0;
  auto got = co_await recv_some(fd, {&byte, 1});
  EXPECT_TRUE(got && *got == 1 && byte == first);
  auto slept = co_await sleep_for(1us);
  EXPECT_TRUE(slept) << slept.error().message();
  got = co_await recv_some(fd, {&byte, 1});
  EXPECT_TRUE(got && *got == 1 && byte == second);
  ++*finished;
}

task<void> start_workers_then_send(std::vector<int> fds, std::vector<int> peers, int* finished,
                                   std::vector<int>* polled) {
  auto& loop = event_loop::current();
  for (std::size_t i = 0; i < fds.size(); ++i) {
    const auto first = static_cast<char>('a' + i % 26);
    EXPECT_EQ(::send(peers[i], &first, 1, 0), 1);
    loop.spawn(poll_receive_sleep_receive(fds[i], first, static_cast<char>('A' + i % 26), finished,
                                          polled, static_cast<int>(i)));
  }
  // Every worker has submitted its last receive once all of them are through the first
  // three operations; there is no event for that, so wait for the loop to go quiet.
  while (loop.in_flight() > fds.size()) {
    co_await yield();
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const auto second = static_cast<char>('A' + i % 26);
    EXPECT_EQ(::send(peers[i], &second, 1, 0), 1);
  }
  co_await loop.wait_for_spawned();
}

// 8 SQ and 16 CQ entries against 300 workers whose operations complete as they are
// submitted: the SQ fills within one turn while the CQ is full of unreaped completions.
void run_far_more_operations_than_the_queues_hold(bool busy_kernel) {
  constexpr std::size_t k_workers = 300;
  // The busy kernel is io_uring's (a full CQ refusing submissions); the plain flood runs on
  // whichever backend the suite runs on.
  event_loop loop(event_loop_options{
      .queue_depth = 8, .backend = busy_kernel ? backend_kind::io_uring : default_backend()});
  loop.simulate_busy_kernel_for_testing(busy_kernel);
  auto pairs = make_socket_pairs(k_workers);
  std::vector<int> fds;
  std::vector<int> peers;
  for (auto& pair : pairs) {
    fds.push_back(pair.left.get());
    peers.push_back(pair.right.get());
  }
  int finished = 0;
  std::vector<int> polled;
  EXPECT_NO_THROW(loop.run(start_workers_then_send(fds, peers, &finished, &polled)));
  EXPECT_EQ(finished, static_cast<int>(k_workers));
  // The polls complete in the order they were submitted, and are delivered in that order
  // whether they waited in the CQ, in the kernel's overflow list or in the loop's stash.
  std::vector<int> in_order(k_workers);
  std::iota(in_order.begin(), in_order.end(), 0);
  EXPECT_EQ(polled, in_order);
  EXPECT_EQ(loop.in_flight(), 0U);
}

TEST(event_loop_test, far_more_operations_than_the_queues_hold_all_complete) {
  run_far_more_operations_than_the_queues_hold(false);
}

TEST(event_loop_test,
     operations_complete_when_the_kernel_refuses_submissions_while_the_cq_is_full) {
  // Room is made by moving completions aside, without resuming anyone mid-submission.
  run_far_more_operations_than_the_queues_hold(true);
}

task<void> receive_one(int fd, bool* received) {
  char byte = 0;
  auto got = co_await recv_some(fd, {&byte, 1});
  EXPECT_TRUE(got && *got == 1 && byte == 'x');
  *received = true;
}

task<int> keep_yielding_while_a_receive_waits(int fd, int peer) {
  bool received = false;
  event_loop::current().spawn(receive_one(fd, &received));
  // Two turns: the receive is submitted and waits in the kernel for data.
  co_await yield();
  co_await yield();
  EXPECT_FALSE(received);
  EXPECT_EQ(::send(peer, "x", 1, 0), 1);
  int yields = 0;
  while (!received && yields < 100'000) {
    co_await yield();
    ++yields;
  }
  co_await event_loop::current().wait_for_spawned();
  co_return yields;
}

TEST(event_loop_test, a_coroutine_that_keeps_yielding_does_not_starve_completions) {
  // With DEFER_TASKRUN the kernel posts a completion only when the loop asks for events;
  // a turn taken while coroutines are posted must ask too, not only submit.
  event_loop loop;
  auto pairs = make_socket_pairs(1);
  const int yields =
      loop.run(keep_yielding_while_a_receive_waits(pairs[0].left.get(), pairs[0].right.get()));
  EXPECT_LE(yields, 100) << loop.features().setup_mode;
}

}  // namespace
}  // namespace ringline::runtime

#include "runtime/task.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace ringline::runtime {
namespace {

// Runs a task that needs no event loop (every await completes synchronously) to its end.
template <typename T>
T run_inline(task<T> work) {
  detail::resume(work.handle());
  EXPECT_TRUE(work.done());
  return work.handle().promise().take_result();
}

task<int> answer() {
  co_return 42;
}

task<int> add_answers(int count) {
  int sum = 0;
  for (int i = 0; i < count; ++i) {
    sum += co_await answer();
  }
  co_return sum;
}

TEST(task_test, is_lazy_until_awaited) {
  bool started = false;
  auto body = [](bool* flag) -> task<void> {
    *flag = true;
    co_return;
  };
  auto work = body(&started);
  EXPECT_FALSE(started);
  EXPECT_FALSE(work.done());
  run_inline(std::move(work));
  EXPECT_TRUE(started);
}

TEST(task_test, returns_value_to_awaiter) {
  EXPECT_EQ(run_inline(add_answers(3)), 126);
}

TEST(task_test, carries_exception_to_awaiter) {
  auto thrower = []() -> task<int> {
    throw std::runtime_error("boom");
    co_return 0;
  };
  auto catcher = [](task<int> inner) -> task<std::string> {
    try {
      co_await std::move(inner);
    } catch (const std::runtime_error& error) {
      co_return error.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run_inline(catcher(thrower())), "boom");
}

TEST(task_test, moves_only_types_out) {
  auto make = []() -> task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  auto outer = [](task<std::unique_ptr<int>> inner) -> task<int> {
    auto value = co_await std::move(inner);
    co_return *value;
  };
  EXPECT_EQ(run_inline(outer(make())), 7);
}

TEST(task_test, destroys_unstarted_frame_and_its_arguments) {
  auto counter = std::make_shared<int>(0);
  {
    auto body = [](std::shared_ptr<int> held) -> task<void> {
      ++*held;
      co_return;
    };
    auto work = body(counter);
    EXPECT_EQ(counter.use_count(), 2);
  }
  EXPECT_EQ(counter.use_count(), 1);
  EXPECT_EQ(*counter, 0);
}

TEST(task_test, move_assignment_destroys_previous_frame) {
  auto counter = std::make_shared<int>(0);
  auto body = [](std::shared_ptr<int> /*held*/) -> task<void> { co_return; };
  auto first = body(counter);
  first = body(nullptr);
  EXPECT_EQ(counter.use_count(), 1);
  EXPECT_TRUE(first.valid());
}

// Lewis Baker's symmetric-transfer example: without a flat-stack hand-over every iteration
// nests two more frames of resume() on the stack, and a million of them overflow it.
TEST(task_test, million_synchronous_awaits_do_not_grow_the_stack) {
  EXPECT_EQ(run_inline(add_answers(1'000'000)), 42'000'000);
}

task<int> nested(int depth) {
  if (depth == 0) {
    co_return 0;
  }
  co_return 1 + co_await nested(depth - 1);
}

TEST(task_test, deep_nesting_does_not_grow_the_stack) {
  EXPECT_EQ(run_inline(nested(100'000)), 100'000);
}

}  // namespace
}  // namespace ringline::runtime

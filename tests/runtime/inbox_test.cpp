// The inbox is the one way into another thread's loop: posts from foreign threads must all
// arrive, in order, batched into few wake-ups, and an inbox shut down with work queued must
// leak nothing (checked under ASan and TSan by the `threads` label).
#include "runtime/inbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <coroutine>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/yield.hpp"

namespace ringline::runtime {
namespace {

// Serves `box` on this loop until `done` is set by posted work, then closes it.
task<void> serve_until(inbox& box, event& done) {
  auto& loop = event_loop::current();
  loop.spawn(box.run());
  co_await done;
  box.close();
  co_await loop.wait_for_spawned();
}

TEST(inbox_test, runs_work_posted_from_another_thread_on_the_owning_thread) {
  event_loop loop;
  inbox box;
  event done;
  const auto owner = std::this_thread::get_id();
  std::thread::id ran_on;
  inbox* seen_current = nullptr;
  std::thread poster([&] {
    box.post([&] {
      ran_on = std::this_thread::get_id();
      seen_current = inbox::current();
      done.set();
    });
  });
  loop.run(serve_until(box, done));
  poster.join();
  EXPECT_EQ(ran_on, owner);
  EXPECT_EQ(seen_current, &box);
  EXPECT_EQ(inbox::current(), nullptr);
}

// Resumed through the inbox: counts, and sets `done` at the last expected resumption.
struct resume_counter {
  int resumed = 0;
  int expected = 0;
  event* done = nullptr;
};

task<void> wait_resumed(std::coroutine_handle<>& self_out, resume_counter& counter) {
  struct self_awaiter {
    std::coroutine_handle<>& out;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> self) noexcept { out = self; }
    void await_resume() const noexcept {}
  };
  co_await self_awaiter{self_out};
  if (++counter.resumed == counter.expected) {
    counter.done->set();
  }
}

// Spawns `count` coroutines that wait for a resumption, lets them start, then posts them all
// from another thread before the inbox runs; returns the eventfd writes that took.
task<std::size_t> post_waiters_from_a_thread(inbox& box, resume_counter& counter, int count) {
  auto& loop = event_loop::current();
  std::vector<std::coroutine_handle<>> handles(static_cast<std::size_t>(count));
  for (auto& handle : handles) {
    loop.spawn(wait_resumed(handle, counter));
  }
  co_await yield();  // spawned tasks start on the next turn
  std::thread poster([&] {
    // Half one by one, half in one batch.
    for (std::size_t i = 0; i < handles.size() / 2; ++i) {
      box.post(handles[i]);
    }
    box.post(std::span<const std::coroutine_handle<>>(handles).subspan(handles.size() / 2));
  });
  poster.join();
  co_return box.wakeups();
}

TEST(inbox_test, resumes_coroutines_posted_from_other_threads_in_batches) {
  constexpr int k_handles = 64;
  event_loop loop;
  inbox box;
  event done;
  resume_counter counter{.resumed = 0, .expected = k_handles, .done = &done};
  // Everything was posted while the inbox was not running: one wake-up covered all 33 posts.
  EXPECT_EQ(loop.run(post_waiters_from_a_thread(box, counter, k_handles)), 1U);
  EXPECT_EQ(counter.resumed, 0);
  loop.run(serve_until(box, done));
  EXPECT_EQ(counter.resumed, k_handles);
}

TEST(inbox_test, many_threads_posting_lose_nothing_and_keep_each_threads_order) {
  constexpr int k_threads = 4;
  constexpr int k_posts = 5000;
  event_loop loop;
  inbox box;
  event done;
  std::vector<int> last_seen(k_threads, -1);
  int received = 0;
  bool in_order = true;
  std::vector<std::thread> posters;
  posters.reserve(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < k_posts; ++i) {
        box.post([&, t, i] {
          auto& last = last_seen[static_cast<std::size_t>(t)];
          in_order = in_order && last == i - 1;
          last = i;
          if (++received == k_threads * k_posts) {
            done.set();
          }
        });
      }
    });
  }
  loop.run(serve_until(box, done));
  for (auto& poster : posters) {
    poster.join();
  }
  EXPECT_EQ(received, k_threads * k_posts);
  EXPECT_TRUE(in_order);
  // Batching: far fewer eventfd writes than posts.
  EXPECT_LT(box.wakeups(), static_cast<std::size_t>(k_threads * k_posts));
}

TEST(inbox_test, work_left_queued_at_close_is_destroyed_unrun) {
  auto token = std::make_shared<int>(7);
  bool ran_late = false;
  {
    event_loop loop;
    inbox box;
    event done;
    box.post([&done] { done.set(); });
    loop.run(serve_until(box, done));
    // run() has returned: this is queued and never run, only destroyed with the inbox.
    std::thread poster([&] { box.post([token, &ran_late] { ran_late = true; }); });
    poster.join();
    EXPECT_EQ(token.use_count(), 2);
  }
  EXPECT_FALSE(ran_late);
  EXPECT_EQ(token.use_count(), 1);
}

TEST(inbox_test, loop_destroyed_with_run_in_flight_releases_everything) {
  auto token = std::make_shared<int>(1);
  {
    inbox box;
    event_loop loop;
    loop.spawn(box.run());
    box.post([token] {});
    // The loop never turns: its destructor cancels the read and frees the run() frame.
  }
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(inbox::current(), nullptr);
}

}  // namespace
}  // namespace ringline::runtime

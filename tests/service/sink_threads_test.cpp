// One sink, appended to from several loop threads: lines arrive whole and in each thread's
// order, waiters on other threads are resumed through their inboxes, and abort() and the
// sink timeout reach them too. Built under TSan by the `threads` label.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/inbox.hpp"
#include "service/sink.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_text.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

/// A loop thread with its own inbox, running `work` and then telling `main` it finished.
class loop_thread {
 public:
  loop_thread(std::function<runtime::task<void>()> work, runtime::inbox& main,
              std::function<void()> on_done)
      : m_thread([this, work = std::move(work), &main, on_done = std::move(on_done)] {
          runtime::event_loop loop;
          loop.run(serve(work(), main, on_done));
        }) {}
  loop_thread(const loop_thread&) = delete;
  loop_thread& operator=(const loop_thread&) = delete;
  ~loop_thread() { m_thread.join(); }

 private:
  runtime::task<void> serve(runtime::task<void> work, runtime::inbox& main,
                            std::function<void()> on_done) {
    auto& loop = runtime::event_loop::current();
    loop.spawn(m_inbox.run());
    co_await std::move(work);
    main.post(on_done);
    m_inbox.close();
    co_await loop.wait_for_spawned();
  }

  runtime::inbox m_inbox;  // before the thread, which uses it
  std::thread m_thread;
};

/// Runs the writer side on this thread until `threads_left` reaches zero (counted down
/// through `mailbox`), then stops the sink.
runtime::task<void> write_until_done(sink& lines, runtime::inbox& mailbox, runtime::event& done) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(mailbox.run());
  loop.spawn(lines.run());
  loop.spawn(lines.expire_waiters());
  co_await done;
  lines.stop();
  lines.abort();  // whatever is still stuck (a pipe nobody reads) is given up
  mailbox.close();
  co_await loop.wait_for_spawned();
}

TEST(sink_threads_test, appends_from_many_loop_threads_are_written_whole_and_in_order) {
  constexpr int k_threads = 4;
  constexpr int k_appends = 500;
  test_support::temp_dir dir;
  const auto path = dir.file("lines.log");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  sink& lines = **opened;
  runtime::event_loop loop;
  runtime::inbox mailbox;
  lines.set_writer_inbox(&mailbox);
  runtime::event done;
  int left = k_threads;
  std::atomic<int> failures{0};
  {
    std::vector<std::unique_ptr<loop_thread>> threads;
    for (int t = 0; t < k_threads; ++t) {
      auto work = [&lines, &failures, t]() -> runtime::task<void> {
        return [](sink& out, std::atomic<int>& failed, int thread) -> runtime::task<void> {
          for (int i = 0; i < k_appends; ++i) {
            // Two lines per append, so a group of one thread must stay together too.
            const auto first = fmt::format("t{}-{}", thread, 2 * i);
            const auto second = fmt::format("t{}-{}", thread, 2 * i + 1);
            const std::string_view batch[] = {first, second};
            const auto own_thread = std::this_thread::get_id();
            // Resumed on its own loop's thread (through its inbox), never the writer's.
            if (!co_await out.append(batch) || std::this_thread::get_id() != own_thread) {
              ++failed;
            }
          }
        }(lines, failures, t);
      };
      threads.push_back(std::make_unique<loop_thread>(work, mailbox, [&] {
        if (--left == 0) {
          done.set();
        }
      }));
    }
    loop.run(write_until_done(lines, mailbox, done));
  }
  EXPECT_EQ(failures.load(), 0);
  std::vector<int> next(k_threads, 0);
  int bad = 0;
  for (const auto& line : test_support::split_lines(test_support::read_file(path))) {
    int thread = -1;
    int index = -1;
    if (std::sscanf(line.c_str(), "t%d-%d", &thread, &index) != 2 || thread < 0 ||
        thread >= k_threads || line != fmt::format("t{}-{}", thread, index) ||
        index != next[static_cast<std::size_t>(thread)]) {
      ++bad;
      continue;
    }
    ++next[static_cast<std::size_t>(thread)];
  }
  EXPECT_EQ(bad, 0);
  for (int t = 0; t < k_threads; ++t) {
    EXPECT_EQ(next[static_cast<std::size_t>(t)], 2 * k_appends) << "thread " << t;
  }
}

/// A sink whose writer is stuck: a pipe nobody reads, filled by a first, huge line.
struct stuck_sink {
  explicit stuck_sink(std::chrono::milliseconds timeout) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    reader = runtime::unique_fd(fds[0]);
    lines = std::make_unique<sink>(runtime::unique_fd(fds[1]), fds[1], false,
                                   sink_options{.timeout = timeout});
  }
  runtime::unique_fd reader;
  std::unique_ptr<sink> lines;
};

/// Appends a line from another loop thread while the writer is stuck on this one and
/// returns the append's outcome; `stop_it` runs on the writer's loop once it is waiting.
std::error_code foreign_append_while_stuck(stuck_sink& stuck, bool abort_it) {
  sink& lines = *stuck.lines;
  runtime::event_loop loop;
  runtime::inbox mailbox;
  lines.set_writer_inbox(&mailbox);
  runtime::event done;
  std::error_code outcome;
  const std::string huge(1 << 20, 'x');
  const std::string_view first[] = {huge};
  // Fills the pipe: the writer stays in its write from here on.
  auto filling = lines.append(first);
  {
    loop_thread other(
        [&]() -> runtime::task<void> {
          return [](sink& out, std::error_code& result, runtime::inbox& main,
                    bool abort_after) -> runtime::task<void> {
            const std::string_view line[] = {"from another thread"};
            auto written = out.append(line);
            if (abort_after) {
              // The writer's thread aborts once this append is queued (or even before it
              // suspends: either way it must end with operation_canceled, never hang).
              main.post([&out] { out.abort(); });
            }
            auto got = co_await written;
            result = got ? std::error_code() : got.error();
          }(lines, outcome, mailbox, abort_it);
        },
        mailbox, [&] { done.set(); });
    loop.run(write_until_done(lines, mailbox, done));
  }
  return outcome;
}

TEST(sink_threads_test, abort_fails_the_waiters_of_other_threads) {
  stuck_sink stuck(0ms);
  EXPECT_EQ(foreign_append_while_stuck(stuck, true), std::errc::operation_canceled);
}

TEST(sink_threads_test, sink_timeout_expires_the_waiters_of_other_threads) {
  stuck_sink stuck(100ms);
  EXPECT_EQ(foreign_append_while_stuck(stuck, false), std::errc::timed_out);
}

TEST(sink_threads_test, none_completes_appends_at_once_on_any_thread) {
  auto opened = sink::open("none");
  ASSERT_TRUE(opened);
  bool ready = false;
  std::thread other([&] {
    // No loop and no inbox on this thread: `none` needs neither.
    const std::string_view line[] = {"dropped"};
    auto written = (*opened)->append(line);
    ready = written.await_ready() && written.await_resume().has_value();
  });
  other.join();
  EXPECT_TRUE(ready);
}

}  // namespace
}  // namespace ringline::service

// The log in both modes. Synchronous mode is tested in this process with fd 2 briefly pointed
// at a pipe. Background mode is a one-way switch for the whole process, so each background
// test forks a child (this process has no other threads then), points the child's fd 2 at a
// pipe, and checks from here what arrives there; under ThreadSanitizer (label `threads`) the
// child's writer thread is checked as well, and a race report would show up in that output.
#include "runtime/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/unique_fd.hpp"

namespace ringline::runtime {
namespace {

using namespace std::chrono_literals;

struct pipe_ends {
  unique_fd read;
  unique_fd write;
};

pipe_ends make_pipe() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// Reads `fd` until EOF, or until `enough` bytes have come; nullopt if that has not happened
// within `limit` (a hung child).
std::optional<std::string> read_to_eof(int fd, std::chrono::milliseconds limit,
                                       std::size_t enough = std::string::npos) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string text;
  std::vector<char> buffer(std::size_t{64} * 1024);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) {
      return std::nullopt;
    }
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got <= 0) {
      return text;
    }
    text.append(buffer.data(), static_cast<std::size_t>(got));
    if (text.size() >= enough) {
      return text;
    }
  }
}

// Runs `body` with fd 2 pointing at a pipe and returns what it wrote there (a few KiB at most).
std::string capture_stderr(const std::function<void()>& body) {
  auto pipe = make_pipe();
  const unique_fd saved(::dup(STDERR_FILENO));
  EXPECT_EQ(::dup2(pipe.write.get(), STDERR_FILENO), STDERR_FILENO);
  body();
  EXPECT_EQ(::dup2(saved.get(), STDERR_FILENO), STDERR_FILENO);
  pipe.write.reset();
  return read_to_eof(pipe.read.get(), 10s).value_or("<no EOF>");
}

// Forks a child that runs `body` with fd 2 replaced by `stderr_fd` and exits with the code
// `body` returns. The child never returns into GoogleTest.
pid_t fork_child(int stderr_fd, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(stderr_fd, STDERR_FILENO);
    ::_exit(body());
  }
  EXPECT_GT(pid, 0);
  return pid;
}

int exit_code_of(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end = text.find('\n'); end != std::string::npos;
       start = end + 1, end = text.find('\n', start)) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

TEST(log_test, synchronous_mode_writes_each_line_as_it_is) {
  const auto written = capture_stderr([] {
    log_line("plain line");
    log(log_level::error, "an error");
  });
  EXPECT_EQ(written, "plain line\nan error\n");
  EXPECT_TRUE(flush_log(0ms));
  EXPECT_EQ(log_dropped_lines(), 0U);
}

TEST(log_test, min_level_discards_less_important_lines) {
  configure_log({.min_level = log_level::warn});
  auto written = capture_stderr([] {
    log(log_level::debug, "debug");
    log(log_level::info, "info");
    log_line("log_line");
    log(log_level::warn, "warn");
    log(log_level::error, "error");
  });
  EXPECT_EQ(written, "warn\nerror\n");
  configure_log({.min_level = log_level::debug});
  written = capture_stderr([] { log(log_level::debug, "debug"); });
  EXPECT_EQ(written, "debug\n");
  configure_log({});
  written = capture_stderr([] { log(log_level::debug, "debug"); });
  EXPECT_EQ(written, "");
}

TEST(log_test, timestamps_prefix_the_utc_time_and_the_level) {
  // A local zone far from UTC, so a prefix in local time would be hours off.
  const char* old_zone = std::getenv("TZ");
  const std::string saved_zone = old_zone != nullptr ? old_zone : "";
  ::setenv("TZ", "XYZ-05:30", 1);
  ::tzset();
  configure_log({.timestamps = true});
  const auto written = capture_stderr([] { log(log_level::warn, "hello: world"); });
  configure_log({});
  old_zone != nullptr ? ::setenv("TZ", saved_zone.c_str(), 1) : ::unsetenv("TZ");
  ::tzset();

  ASSERT_TRUE(std::regex_match(
      written, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn hello: world\n)")))
      << written;
  tm fields{};
  int millis = 0;
  ASSERT_EQ(
      std::sscanf(written.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &fields.tm_year, &fields.tm_mon,
                  &fields.tm_mday, &fields.tm_hour, &fields.tm_min, &fields.tm_sec, &millis),
      7);
  fields.tm_year -= 1900;
  fields.tm_mon -= 1;
  const std::time_t logged = ::timegm(&fields);
  const std::time_t now = std::time(nullptr);
  EXPECT_LE(std::abs(static_cast<long>(now - logged)), 60L) << written;
  EXPECT_LT(millis, 1000);
}

TEST(log_test, text_format_writes_the_message_as_it_is_without_the_fields) {
  const auto written = capture_stderr([] {
    log(log_level::info, "disconnect 127.0.0.1:5000 lines=3",
        {{"peer", "127.0.0.1:5000"}, {"lines", "3"}});
  });
  EXPECT_EQ(written, "disconnect 127.0.0.1:5000 lines=3\n");
}

TEST(log_test, json_format_writes_one_object_per_line_with_fields_numbers_and_escapes) {
  configure_log({.format = log_format::json});
  const auto written = capture_stderr([] {
    log(log_level::warn, "say \"hi\"\\\n\x01",
        {{"peer", "[::1]:80"}, {"lines", "42"}, {"code", "007"}, {"neg", "-5"}});
    log_line("plain");
  });
  configure_log({});
  EXPECT_EQ(written,
            "{\"level\":\"warn\",\"message\":\"say \\\"hi\\\"\\\\\\n\\u0001\","
            "\"peer\":\"[::1]:80\",\"lines\":42,\"code\":\"007\",\"neg\":-5}\n"
            "{\"level\":\"info\",\"message\":\"plain\"}\n");
}

TEST(log_test, json_format_with_timestamps_carries_the_time_as_a_field) {
  configure_log({.format = log_format::json, .timestamps = true});
  const auto written = capture_stderr([] { log(log_level::error, "boom", {{"n", "1"}}); });
  configure_log({});
  EXPECT_TRUE(std::regex_match(
      written,
      std::regex(
          R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"error","message":"boom","n":1\}\n)")))
      << written;
}

TEST(log_test, fields_are_not_composed_below_the_level) {
  configure_log({.min_level = log_level::warn});
  EXPECT_FALSE(log_enabled(log_level::info));
  EXPECT_TRUE(log_enabled(log_level::error));
  const auto written = capture_stderr([] { log(log_level::info, "quiet", {{"a", "b"}}); });
  configure_log({});
  EXPECT_EQ(written, "");
}

TEST(log_test, background_mode_never_blocks_on_a_full_pipe_and_reports_drops) {
  constexpr int k_calls = 100'000;
  auto err = make_pipe();
  auto status = make_pipe();
  const pid_t child = fork_child(err.write.get(), [&] {
    // Only the parent may read: a child holding a read end could never see EPIPE.
    err.read.reset();
    status.read.reset();
    // Fill the pipe: from here on, a write to fd 2 blocks until the parent reads.
    (void)::fcntl(STDERR_FILENO, F_SETFL, O_NONBLOCK);
    while (::write(STDERR_FILENO, "\n", 1) == 1) {
    }
    (void)::fcntl(STDERR_FILENO, F_SETFL, 0);
    start_background_log({});
    // 100,000 lines of 40 bytes: more than the queue and the writer's batch (1 MiB each)
    // can hold together, however late the writer takes its first batch.
    for (int i = 0; i < k_calls; ++i) {
      log_line("message " + std::to_string(i) + std::string(26, '.'));
    }
    const std::uint64_t dropped = log_dropped_lines();
    if (::write(status.write.get(), &dropped, sizeof dropped) != sizeof dropped) {
      return 2;
    }
    return flush_log(20s) ? 0 : 3;
  });
  err.write.reset();
  status.write.reset();

  // The child reports once all calls have returned; reading stderr only starts after that.
  const auto report = read_to_eof(status.read.get(), 20s, sizeof(std::uint64_t));
  if (!report.has_value()) {
    ::kill(child, SIGKILL);  // stuck in a write to the pipe nobody reads
    (void)exit_code_of(child);
  }
  ASSERT_TRUE(report.has_value()) << "log calls blocked on the full pipe";
  std::uint64_t dropped = 0;
  ASSERT_EQ(report->size(), sizeof dropped);
  std::memcpy(&dropped, report->data(), sizeof dropped);
  EXPECT_GT(dropped, 0U);

  const auto written = read_to_eof(err.read.get(), 20s);
  EXPECT_EQ(exit_code_of(child), 0);
  ASSERT_TRUE(written.has_value());
  std::uint64_t messages = 0;
  std::uint64_t reported = 0;
  const std::regex report_line(R"(log: dropped (\d+) lines \(standard error was not keeping up\))");
  for (const auto& line : lines_of(*written)) {
    std::smatch match;
    if (line.starts_with("message ")) {
      ++messages;
    } else if (std::regex_match(line, match, report_line)) {
      reported += std::stoull(match[1].str());
    } else {
      EXPECT_EQ(line, "") << "unexpected line";
    }
  }
  EXPECT_EQ(reported, dropped) << written->size() << " bytes, " << messages << " messages";
  EXPECT_EQ(messages + dropped, static_cast<std::uint64_t>(k_calls));
}

TEST(log_test, background_mode_writes_every_line_of_many_threads_with_prefix_and_level) {
  constexpr int k_threads = 4;
  constexpr int k_lines = 1000;
  auto err = make_pipe();
  const pid_t child = fork_child(err.write.get(), [&] {
    err.read.reset();
    start_background_log({.min_level = log_level::warn, .timestamps = true});
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < k_lines; ++i) {
          log(log_level::info, "filtered out");
          log(log_level::warn, "thread " + std::to_string(t) + " line " + std::to_string(i));
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    return flush_log(20s) && log_dropped_lines() == 0 ? 0 : 3;
  });
  err.write.reset();

  const auto written = read_to_eof(err.read.get(), 20s);
  EXPECT_EQ(exit_code_of(child), 0);
  ASSERT_TRUE(written.has_value());
  const std::regex expected(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn thread (\d) line (\d+))");
  std::vector<int> next(k_threads, 0);
  std::size_t count = 0;
  for (const auto& line : lines_of(*written)) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, expected)) << line;
    // Lines of one thread arrive in the order it logged them.
    const auto thread = static_cast<std::size_t>(std::stoi(match[1].str()));
    EXPECT_EQ(std::stoi(match[2].str()), next[thread]++);
    ++count;
  }
  EXPECT_EQ(count, std::size_t{k_threads} * k_lines);
}

}  // namespace
}  // namespace ringline::runtime

// The programs where io_uring is refused: run under ringline-without-io-uring, a seccomp filter
// that refuses io_uring_setup, io_uring_enter and io_uring_register with EPERM (Docker 25+,
// containerd 2.0) or ENOSYS (Podman, a kernel without io_uring). With `--backend auto`, the
// default, they run on epoll, say why in one line and hold a full conversation; with
// `--backend io_uring` they exit 1 with one clear line, never a crash or a hang.
//
// Every program here starts with RINGLINE_BACKEND removed from its environment (the suite may
// run with it set to io_uring or epoll): these tests are about what the flag and the default do.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "tests/support/build_paths.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_text.hpp"

namespace ringline {
namespace {

using test_support::child_options;
using test_support::child_process;
using test_support::k_ack;
using test_support::k_greeting;
using test_support::k_wait;
using test_support::server_process;

/// How the filter refuses io_uring, and the words a program must use to name that cause.
struct refusal {
  const char* error;    ///< the filter's argument
  const char* message;  ///< strerror of it, as the programs print it
  const char* cause;    ///< the word of the explanation that names the cause
};
constexpr refusal k_seccomp{"EPERM", "Operation not permitted", "seccomp"};
constexpr refusal k_no_kernel_support{"ENOSYS", "Function not implemented", "kernel"};

constexpr std::string_view k_unavailable = "io_uring is not available";

/// Returns the wrapper that runs a program with RINGLINE_BACKEND unset, under the filter when
/// `refused` is set.
std::vector<std::string> wrapper(const refusal* refused) {
  std::vector<std::string> prefix = {"env", "-u", "RINGLINE_BACKEND"};
  if (refused != nullptr) {
    prefix.insert(prefix.end(), {RINGLINE_WITHOUT_IO_URING_PATH, refused->error});
  }
  return prefix;
}

struct finished_run {
  std::optional<int> exit_code;
  std::string stdout_text;
  std::string stderr_text;
};

/// Runs `program` with `args` to its end, under the filter when `refused` is set.
finished_run run(const refusal* refused, const std::string& program,
                 std::vector<std::string> args) {
  child_options options;
  options.wrapper = wrapper(refused);
  options.argv = {program};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  child_process child(std::move(options));
  finished_run result;
  result.exit_code = child.wait_for_exit(k_wait);
  result.stdout_text = child.stdout_so_far();
  result.stderr_text = child.stderr_so_far();
  return result;
}

/// Returns the lines of `text` that mention io_uring being unavailable, log prefixes removed.
std::vector<std::string> unavailable_lines(std::string_view text) {
  std::vector<std::string> found;
  for (const auto& line : test_support::split_lines(text)) {
    if (line.find(k_unavailable) != std::string::npos) {
      found.emplace_back(test_support::log_message(line));
    }
  }
  return found;
}

/// Expects exit 1 and one line on stderr saying why io_uring is refused, with no fallback.
void expect_one_clear_line(const finished_run& result, const refusal& refused) {
  const auto& err = result.stderr_text;
  ASSERT_TRUE(result.exit_code.has_value()) << "did not exit; stderr: " << err;
  EXPECT_EQ(*result.exit_code, 1) << err;
  EXPECT_EQ(test_support::count_of(err, "\n"), 1U) << err;
  EXPECT_NE(err.find(k_unavailable), std::string::npos) << err;
  EXPECT_NE(err.find(refused.message), std::string::npos) << err;
  EXPECT_NE(err.find(refused.cause), std::string::npos) << err;
  EXPECT_EQ(err.find("using epoll"), std::string::npos) << err;
}

/// Expects exactly one fallback line in `stderr_text`, from `program`, naming the cause.
void expect_one_fallback_line(std::string_view stderr_text, std::string_view program,
                              const refusal& refused) {
  const auto lines = unavailable_lines(stderr_text);
  ASSERT_EQ(lines.size(), 1U) << stderr_text;
  const auto& line = lines.front();
  EXPECT_TRUE(line.starts_with(
      fmt::format("{}: {} (io_uring_setup: {}): ", program, k_unavailable, refused.message)))
      << line;
  EXPECT_NE(line.find(refused.cause), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with("; using epoll")) << line;
}

/// Returns `count` numbered lines for `tag`, each ending in '\n'.
std::string numbered_lines(std::string_view tag, int first, int count) {
  std::string text;
  for (int i = first; i < first + count; ++i) {
    text += fmt::format("{}-{}\n", tag, i);
  }
  return text;
}

/// What a conversation with a server under the filter varies.
struct server_case {
  std::vector<std::string> backend_args;  ///< {"--backend", "auto"}, or none for the default
  int stop_signal = SIGTERM;
  bool durable = false;
  bool expect_fallback_line = true;  ///< false for --backend epoll: no probe, nothing to say
};

/// Starts the server under the filter, holds a full conversation with it (the greeting, lines
/// acked one by one, then pipelined, all in the sink in order when acked) and stops it.
void expect_conversation_on_epoll(const refusal& refused, const server_case& run_case) {
  const test_support::temp_dir dir;
  const auto sink = dir.file("sink.txt");
  child_options options;
  options.wrapper = wrapper(&refused);
  options.argv = {
      test_support::server_path(), "--host", "127.0.0.1", "--port", "0", "--sink", sink.string()};
  options.argv.insert(options.argv.end(), run_case.backend_args.begin(),
                      run_case.backend_args.end());
  if (run_case.durable) {
    options.argv.emplace_back("--durable");
  }
  options.stdout_mode = test_support::stdio_mode::null;
  auto server = server_process::start(std::move(options), k_wait);
  const auto& announcement = server.startup_lines().back();
  EXPECT_NE(announcement.find(" backend=epoll "), std::string::npos) << announcement;

  auto connection = server.connect();
  ASSERT_EQ(connection.read_line(k_wait), k_greeting);
  std::string sent;
  // One at a time: each line is acked before the next is sent.
  for (int i = 0; i < 3; ++i) {
    const auto line = numbered_lines(refused.error, i, 1);
    connection.send_all(line);
    sent += line;
    ASSERT_EQ(connection.read_line(k_wait), k_ack) << "line " << i;
  }
  // Pipelined: the acks come back in the order of the lines.
  const auto batch = numbered_lines(refused.error, 3, 20);
  connection.send_all(batch);
  sent += batch;
  for (int i = 3; i < 23; ++i) {
    ASSERT_EQ(connection.read_line(k_wait), k_ack) << "line " << i;
  }
  // An ack means the line is in the sink (written by the epoll backend's file worker).
  EXPECT_EQ(test_support::read_file(sink), sent);
  connection.shutdown_write();
  EXPECT_TRUE(connection.wait_for_eof(k_wait));
  EXPECT_EQ(connection.buffered(), "");

  ASSERT_TRUE(server.process().send_signal(run_case.stop_signal));
  EXPECT_EQ(server.process().wait_for_exit(k_wait), 0) << server.process().stderr_so_far();
  const auto err = server.process().stderr_so_far();
  if (run_case.expect_fallback_line) {
    expect_one_fallback_line(err, "ringline-server", refused);
  } else {
    EXPECT_EQ(unavailable_lines(err), std::vector<std::string>{}) << err;
  }
  EXPECT_EQ(test_support::read_file(sink), sent);
}

// The server, --backend auto and the default: epoll, one line naming the cause.

TEST(no_io_uring_test, server_auto_runs_on_epoll_when_seccomp_refuses_io_uring) {
  expect_conversation_on_epoll(k_seccomp, {.backend_args = {"--backend", "auto"},
                                           .stop_signal = SIGTERM,
                                           .durable = false,
                                           .expect_fallback_line = true});
}

TEST(no_io_uring_test, server_default_runs_on_epoll_when_seccomp_refuses_io_uring) {
  expect_conversation_on_epoll(
      k_seccomp,
      {.backend_args = {}, .stop_signal = SIGINT, .durable = true, .expect_fallback_line = true});
}

TEST(no_io_uring_test, server_auto_runs_on_epoll_when_the_kernel_has_no_io_uring) {
  expect_conversation_on_epoll(k_no_kernel_support, {.backend_args = {"--backend", "auto"},
                                                     .stop_signal = SIGTERM,
                                                     .durable = true,
                                                     .expect_fallback_line = true});
}

TEST(no_io_uring_test, server_default_runs_on_epoll_when_the_kernel_has_no_io_uring) {
  expect_conversation_on_epoll(
      k_no_kernel_support,
      {.backend_args = {}, .stop_signal = SIGINT, .durable = false, .expect_fallback_line = true});
}

// EMFILE from io_uring_setup says the process is out of descriptors, not that io_uring is
// refused: auto reports it and exits 1, as epoll would fail the same way a moment later.
TEST(no_io_uring_test, a_resource_error_is_reported_never_a_reason_to_fall_back) {
  constexpr refusal k_out_of_descriptors{"EMFILE", "Too many open files", "io_uring_queue_init"};
  for (const auto& program : {test_support::server_path(), test_support::client_path()}) {
    const auto result = run(&k_out_of_descriptors, program, {"--backend", "auto", "--port", "1"});
    ASSERT_TRUE(result.exit_code.has_value()) << program << ": " << result.stderr_text;
    EXPECT_EQ(*result.exit_code, 1) << program << ": " << result.stderr_text;
    EXPECT_NE(result.stderr_text.find("io_uring_queue_init: Too many open files"),
              std::string::npos)
        << program << ": " << result.stderr_text;
    EXPECT_EQ(result.stderr_text.find("using epoll"), std::string::npos)
        << program << ": " << result.stderr_text;
  }
}

// --backend epoll asks for no probe, so there is no refusal to report.
TEST(no_io_uring_test, server_epoll_says_nothing_about_io_uring) {
  expect_conversation_on_epoll(k_seccomp, {.backend_args = {"--backend", "epoll"},
                                           .stop_signal = SIGTERM,
                                           .durable = false,
                                           .expect_fallback_line = false});
}

// The server, --backend io_uring: today's clear refusal.

TEST(no_io_uring_test, server_io_uring_names_seccomp_when_setup_is_not_permitted) {
  const auto result =
      run(&k_seccomp, test_support::server_path(), {"--port", "0", "--backend", "io_uring"});
  expect_one_clear_line(result, k_seccomp);
}

TEST(no_io_uring_test, server_io_uring_names_the_kernel_when_io_uring_is_missing) {
  const auto result = run(&k_no_kernel_support, test_support::server_path(),
                          {"--port", "0", "--backend", "io_uring"});
  expect_one_clear_line(result, k_no_kernel_support);
}

// The client under the filter, talking to a server that is not.

/// Runs ringline-client under the filter with --backend auto and `args` against a server
/// (without the filter) whose sink must then hold `expected`; returns the client's run.
finished_run expect_client_delivers_on_epoll(const refusal& refused, std::vector<std::string> args,
                                             const std::string& expected, const std::string& out) {
  const test_support::temp_dir dir;
  const auto sink = dir.file("sink.txt");
  child_options server_options;
  server_options.argv = {
      test_support::server_path(), "--host", "127.0.0.1", "--port", "0", "--sink", sink.string()};
  auto server = server_process::start(std::move(server_options), k_wait);

  std::vector<std::string> client_args = {"--backend", "auto",   "--host",
                                          "127.0.0.1", "--port", std::to_string(server.port())};
  client_args.insert(client_args.end(), args.begin(), args.end());
  auto result = run(&refused, test_support::client_path(), client_args);

  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(result.stdout_text, out);
  expect_one_fallback_line(result.stderr_text, "ringline-client", refused);
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_EQ(test_support::read_file(sink), expected);
  return result;
}

/// The client's message mode: greeting and acks on stdout, the one fallback line on stderr.
void expect_client_messages_on_epoll(const refusal& refused) {
  const auto lines = numbered_lines(refused.error, 0, 5);
  std::vector<std::string> args;
  for (const auto& line : test_support::split_lines(lines)) {
    args.insert(args.end(), {"--message", line});
  }
  const auto out = std::string(k_greeting) + test_support::repeat(k_ack, 5);
  const auto result = expect_client_delivers_on_epoll(refused, args, lines, out);
  // In this mode the client prints nothing else on stderr.
  EXPECT_EQ(test_support::count_of(result.stderr_text, "\n"), 1U) << result.stderr_text;
}

/// The client's delivery mode: a file delivered through a small window.
void expect_client_file_on_epoll(const refusal& refused) {
  const test_support::temp_dir dir;
  const auto input = dir.file("input.txt");
  const auto lines = numbered_lines(refused.error, 0, 500);
  test_support::write_file(input, lines);
  (void)expect_client_delivers_on_epoll(
      refused, {"--file", input.string(), "--window", "16", "--quiet"}, lines, "");
}

TEST(no_io_uring_test, client_auto_sends_messages_on_epoll_when_seccomp_refuses_io_uring) {
  expect_client_messages_on_epoll(k_seccomp);
}

TEST(no_io_uring_test, client_auto_sends_messages_on_epoll_when_the_kernel_has_no_io_uring) {
  expect_client_messages_on_epoll(k_no_kernel_support);
}

TEST(no_io_uring_test, client_auto_delivers_a_file_on_epoll_when_seccomp_refuses_io_uring) {
  expect_client_file_on_epoll(k_seccomp);
}

TEST(no_io_uring_test, client_auto_delivers_a_file_on_epoll_when_the_kernel_has_no_io_uring) {
  expect_client_file_on_epoll(k_no_kernel_support);
}

TEST(no_io_uring_test, client_io_uring_names_seccomp_when_setup_is_not_permitted) {
  const auto result =
      run(&k_seccomp, test_support::client_path(), {"--port", "1", "--backend", "io_uring"});
  expect_one_clear_line(result, k_seccomp);
}

TEST(no_io_uring_test, client_io_uring_names_the_kernel_when_io_uring_is_missing) {
  const auto result = run(&k_no_kernel_support, test_support::client_path(),
                          {"--port", "1", "--backend", "io_uring"});
  expect_one_clear_line(result, k_no_kernel_support);
}

// --version names the backend `auto` would pick, and why it passes io_uring over.

/// Returns the second line of `program --version`, run under the filter when `refused` is set.
std::string version_backend_line(const refusal* refused, const std::string& program) {
  const auto result = run(refused, program, {"--version"});
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  const auto lines = test_support::split_lines(result.stdout_text);
  return lines.size() >= 2 ? lines[1] : result.stdout_text;
}

TEST(no_io_uring_test, version_says_epoll_under_the_filter) {
  for (const auto* refused : {&k_seccomp, &k_no_kernel_support}) {
    SCOPED_TRACE(refused->error);
    for (const auto& program : {test_support::server_path(), test_support::client_path()}) {
      const auto line = version_backend_line(refused, program);
      EXPECT_TRUE(line.starts_with(fmt::format(
          "backend: epoll ({} (io_uring_setup: {}): ", k_unavailable, refused->message)))
          << line;
      EXPECT_NE(line.find(refused->cause), std::string::npos) << line;
      EXPECT_TRUE(line.ends_with(")")) << line;
    }
  }
}

TEST(no_io_uring_test, version_says_io_uring_without_the_filter) {
  EXPECT_EQ(version_backend_line(nullptr, test_support::server_path()), "backend: io_uring");
  EXPECT_EQ(version_backend_line(nullptr, test_support::client_path()), "backend: io_uring");
}

}  // namespace
}  // namespace ringline

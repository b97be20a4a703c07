// What a file sink's path may be replaced with, at start and on SIGHUP: a reopen applies every
// check the start applies (no symlink without --sink-follow-symlinks, no other user's file, no
// directory any user may write without a sticky bit, --durable on a regular file only), and a
// reopen that fails one keeps writing to the old file and says why. A SIGHUP without a rename
// finds the same file, and a deleted file is noticed and its path opened again, or the sink
// fails (new connections told so, /health 503) while it cannot be.
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::server_process;
using test_support::temp_dir;

constexpr std::string_view k_unavailable = "error: sink unavailable\n";
constexpr uid_t k_other_user = 4242;  // a user that owns nothing here but what the test gives it

/// What a server that had to refuse to start did.
struct refused_start {
  int exit_code = -1;
  std::string err;
};

/// Runs ringline-server with `args` and waits for it to exit.
refused_start run_refused(std::vector<std::string> args) {
  test_support::child_process child(server_options(std::move(args)));
  refused_start run;
  run.exit_code = child.wait_for_exit(k_wait).value_or(-1);
  run.err = child.stderr_so_far();
  return run;
}

/// Sends `line` on a new connection and expects its ack.
void send_acked(const server_process& server, const std::string& line) {
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);
  client->send_all(line + "\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack) << line;
  client->close();
}

/// Returns the status line /health answers on the server's --metrics address.
std::string health_status(const server_process& server) {
  std::uint16_t port = 0;
  for (const auto& line : server.startup_lines()) {
    const auto message = test_support::log_message(line);
    if (message.starts_with("metrics: serving")) {
      port = static_cast<std::uint16_t>(
          std::stoi(std::string(message.substr(message.rfind(':') + 1))));
    }
  }
  if (port == 0) {
    return "no metrics address at start";
  }
  auto client = test_support::socket_client::connect("127.0.0.1", port);
  client.send_all("GET /health HTTP/1.1\r\nHost: test\r\n\r\n");
  const auto answer = client.read_until_eof(k_wait);
  return answer.substr(0, answer.find("\r\n"));
}

/// Moves the sink away, puts `replace` in its place, sends SIGHUP and waits for the reopen's
/// log line containing `expected`.
void rotate_to(server_process& server, const std::filesystem::path& sink,
               const std::function<void()>& replace, std::string_view expected) {
  std::filesystem::rename(sink, sink.string() + ".1");
  replace();
  ASSERT_TRUE(server.process().send_signal(SIGHUP));
  const auto line = wait_for_stderr_line(server.process(), "sink: cannot reopen");
  ASSERT_TRUE(line) << server.process().stderr_so_far();
  EXPECT_NE(line->find(expected), std::string::npos) << *line;
  EXPECT_NE(line->find(" warn "), std::string::npos) << *line;
  EXPECT_NE(line->find("still writing to the old file"), std::string::npos) << *line;
}

TEST(sink_reopen_test, a_sink_that_is_a_symlink_is_refused_at_start_unless_allowed) {
  const temp_dir dir;
  const auto victim = dir.file("victim");
  write_file(victim, "precious\n");
  const auto sink = dir.file("lines.log");
  std::filesystem::create_symlink(victim, sink);

  const auto refused = run_refused({"--sink", sink.string()});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("is a symbolic link; refusing to follow it"), std::string::npos)
      << refused.err;
  EXPECT_EQ(read_file(victim), "precious\n");

  auto server = start_server({"--sink", sink.string(), "--sink-follow-symlinks", "--quiet"});
  send_acked(server, "allowed");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(victim), "precious\nallowed\n");
}

TEST(sink_reopen_test, sighup_onto_a_symlink_keeps_writing_to_the_old_file) {
  const temp_dir dir;
  const auto victim = dir.file("victim");
  write_file(victim, "precious\n");
  const auto sink = dir.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  send_acked(server, "before");
  rotate_to(
      server, sink, [&] { std::filesystem::create_symlink(victim, sink); },
      "is a symbolic link; refusing to follow it");
  send_acked(server, "INJECTED");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(victim), "precious\n");
  EXPECT_EQ(read_file(sink.string() + ".1"), "before\nINJECTED\n");
}

TEST(sink_reopen_test, durable_sighup_onto_dev_null_keeps_the_old_file) {
  const temp_dir dir;
  const auto sink = dir.file("lines.log");
  // Even where symlinks are allowed, --durable never acks into a device.
  auto server =
      start_server({"--sink", sink.string(), "--durable", "--sink-follow-symlinks", "--quiet"});
  send_acked(server, "before");
  rotate_to(
      server, sink, [&] { std::filesystem::create_symlink("/dev/null", sink); },
      "is a character device, not a regular file");
  send_acked(server, "durable after");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink.string() + ".1"), "before\ndurable after\n");
}

TEST(sink_reopen_test, durable_sighup_onto_a_device_node_keeps_the_old_file) {
  const temp_dir dir;
  const auto sink = dir.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--durable", "--quiet"});
  send_acked(server, "before");
  // /dev/null's own numbers, without a symlink to give it away.
  rotate_to(
      server, sink,
      [&] { ASSERT_EQ(::mknod(sink.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0) << "needs root"; },
      "is a character device, not a regular file");
  send_acked(server, "durable after");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink.string() + ".1"), "before\ndurable after\n");
}

TEST(sink_reopen_test, another_users_file_is_refused_at_start_and_on_sighup) {
  const temp_dir dir;
  const auto sink = dir.file("lines.log");
  write_file(sink, "theirs\n");
  ASSERT_EQ(::chown(sink.c_str(), k_other_user, k_other_user), 0) << "needs root";
  const auto refused = run_refused({"--sink", sink.string()});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("belongs to uid 4242"), std::string::npos) << refused.err;
  EXPECT_EQ(read_file(sink), "theirs\n");

  std::filesystem::remove(sink);
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  send_acked(server, "before");
  rotate_to(
      server, sink,
      [&] {
        write_file(sink, "");
        ASSERT_EQ(::chown(sink.c_str(), k_other_user, k_other_user), 0);
      },
      "belongs to uid 4242");
  send_acked(server, "after");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink), "");
  EXPECT_EQ(read_file(sink.string() + ".1"), "before\nafter\n");
}

TEST(sink_reopen_test, a_directory_anyone_may_write_needs_its_sticky_bit) {
  const temp_dir dir;
  const auto open_dir = dir.file("open");
  std::filesystem::create_directory(open_dir);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  const auto sink = open_dir / "lines.log";
  const auto refused = run_refused({"--sink", sink.string()});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("which any user may write and which has no sticky bit"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(std::filesystem::exists(sink));

  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  send_acked(server, "sticky");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink), "sticky\n");
}

TEST(sink_reopen_test, sighup_without_a_rename_finds_the_same_file) {
  const temp_dir dir;
  const auto sink = dir.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  send_acked(server, "before");
  ASSERT_TRUE(server.process().send_signal(SIGHUP));
  struct stat info {};
  ASSERT_EQ(::stat(sink.c_str(), &info), 0);
  const auto line = wait_for_stderr_line(server.process(), "sink " + sink.string() + ": re");
  ASSERT_TRUE(line) << server.process().stderr_so_far();
  EXPECT_NE(line->find(fmt::format("reopen found the same file (device {}:{}, inode {})",
                                   major(info.st_dev), minor(info.st_dev), info.st_ino)),
            std::string::npos)
      << *line;
  send_acked(server, "after");
  EXPECT_EQ(server.stop(k_wait), 0);
  const auto log = server.process().stderr_so_far();
  EXPECT_EQ(count_of(log, "in use by another process"), 0U) << log;
  EXPECT_EQ(count_of(log, "cannot reopen"), 0U) << log;
  EXPECT_EQ(read_file(sink), "before\nafter\n");
}

TEST(sink_reopen_test, a_deleted_sink_file_is_noticed_and_its_path_opened_again) {
  const temp_dir dir;
  const auto sink = dir.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  send_acked(server, "before");
  std::filesystem::remove(sink);
  const auto line = wait_for_stderr_line(server.process(), "the file being written was deleted");
  ASSERT_TRUE(line) << server.process().stderr_so_far();
  EXPECT_NE(line->find(" warn "), std::string::npos) << *line;
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink " + sink.string() + ": reopened"));
  send_acked(server, "after");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink), "after\n");
}

TEST(sink_reopen_test, a_deleted_sink_directory_fails_the_sink_until_it_is_back) {
  const temp_dir dir;
  const auto logs = dir.file("logs");
  std::filesystem::create_directory(logs);
  const auto sink = logs / "lines.log";
  auto server = start_server({"--sink", sink.string(), "--quiet", "--metrics", "127.0.0.1:0"});
  send_acked(server, "before");
  EXPECT_EQ(health_status(server), "HTTP/1.1 200 OK");
  std::filesystem::remove_all(logs);
  const auto line = wait_for_stderr_line(server.process(), "until the path can be opened again");
  ASSERT_TRUE(line) << server.process().stderr_so_far();
  EXPECT_NE(line->find("No such file or directory"), std::string::npos) << *line;
  // No line is acknowledged into nowhere: a new connection is told, not greeted.
  auto refused = server.connect();
  EXPECT_EQ(refused.read_until_eof(k_wait), k_unavailable);
  EXPECT_EQ(health_status(server), "HTTP/1.1 503 Service Unavailable");

  std::filesystem::create_directory(logs);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "opened the path again"));
  EXPECT_EQ(health_status(server), "HTTP/1.1 200 OK");
  send_acked(server, "after");
  EXPECT_EQ(server.stop(k_wait), 0);
  EXPECT_EQ(read_file(sink), "after\n");
}

}  // namespace
}  // namespace ringline::fault

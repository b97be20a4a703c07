// --pidfile: the server's pid in a file once it listens (written whole, never seen half
// written), removed at exit; a second server given the same file refuses to start, and a file
// left behind by a server that died is taken over.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/integration/integration_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::integration {
namespace {

using test_support::temp_dir;

/// Returns the names in `dir`.
std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

std::string pid_line(test_support::server_process& server) {
  return std::to_string(server.process().pid()) + "\n";
}

TEST(pidfile_test, holds_the_servers_pid_while_it_serves_and_is_removed_at_exit) {
  const temp_dir dir;
  const auto path = dir.file("ringline.pid");
  auto server = start_server_quietly({"--sink", "none", "--pidfile", path.string()});
  EXPECT_EQ(read_file(path), pid_line(server));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777U, 0644U);  // readable by whoever rotates the logs
  // Written under a temporary name first: none is left behind.
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"ringline.pid"});
  EXPECT_EQ(server.stop(), 0) << server.process().stderr_so_far();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(pidfile_test, is_not_written_by_a_server_that_cannot_listen) {
  const temp_dir dir;
  const auto path = dir.file("ringline.pid");
  // A port held without SO_REUSEPORT: the server's bind fails.
  const test_support::unique_fd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(holder.get(), 1), 0);
  ASSERT_EQ(::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const auto run =
      run_program({test_support::server_path(), "--port", std::to_string(ntohs(address.sin_port)),
                   "--sink", "none", "--pidfile", path.string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("cannot listen"), std::string::npos) << run.err;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(pidfile_test, a_second_server_with_the_same_pidfile_exits_1_and_leaves_it_alone) {
  const temp_dir dir;
  const auto path = dir.file("ringline.pid");
  const auto sink = dir.file("lines.log");
  auto first = start_server_quietly({"--sink", "none", "--pidfile", path.string()});
  // Another port, another sink: only the pidfile is shared, and the second must touch nothing.
  const auto run = run_program({test_support::server_path(), "--port", "0", "--sink", sink.string(),
                                "--pidfile", path.string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find(" error ringline-server: --pidfile " + path.string() +
                         ": held by a running process (pid " +
                         std::to_string(first.process().pid()) + ")"),
            std::string::npos)
      << run.err;
  EXPECT_FALSE(std::filesystem::exists(sink));
  EXPECT_EQ(read_file(path), pid_line(first));
  // The first one still serves, and still owns the file.
  auto client = first.connect();
  EXPECT_EQ(client.read_line(k_wait), std::string(k_greeting));
  client.close();
  EXPECT_EQ(first.stop(), 0) << first.process().stderr_so_far();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(pidfile_test, a_file_left_by_a_killed_server_is_taken_over) {
  const temp_dir dir;
  const auto path = dir.file("ringline.pid");
  auto killed = start_server_quietly({"--sink", "none", "--pidfile", path.string()});
  ASSERT_TRUE(killed.process().send_signal(SIGKILL));
  ASSERT_TRUE(killed.process().wait_for_exit(k_wait));
  ASSERT_EQ(read_file(path), pid_line(killed));  // SIGKILL leaves it behind
  auto next = start_server_quietly({"--sink", "none", "--pidfile", path.string()});
  EXPECT_EQ(read_file(path), pid_line(next));
  EXPECT_EQ(next.stop(), 0) << next.process().stderr_so_far();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(pidfile_test, a_stale_file_with_any_pid_is_replaced) {
  // Not locked, whatever it says: a pid may have been reused by an unrelated process since.
  const temp_dir dir;
  const auto path = dir.file("ringline.pid");
  write_file(path, "1\n");
  auto server = start_server_quietly({"--sink", "none", "--pidfile", path.string()});
  EXPECT_EQ(read_file(path), pid_line(server));
  EXPECT_EQ(server.stop(), 0) << server.process().stderr_so_far();
}

TEST(pidfile_test, a_symlink_in_its_place_is_refused_and_its_target_left_alone) {
  // Whoever can write the directory must not make the server lock, or replace, another file.
  const temp_dir dir;
  const auto victim = dir.file("victim");
  write_file(victim, "precious\n");
  const auto path = dir.file("ringline.pid");
  std::filesystem::create_symlink(victim, path);
  const auto run = run_program(
      {test_support::server_path(), "--port", "0", "--sink", "none", "--pidfile", path.string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find("--pidfile " + path.string() + ": "), std::string::npos) << run.err;
  EXPECT_EQ(read_file(victim), "precious\n");
  EXPECT_TRUE(std::filesystem::is_symlink(path));
  EXPECT_EQ(names_in(dir.path()).size(), 2U);  // no temporary file left behind
}

}  // namespace
}  // namespace ringline::integration

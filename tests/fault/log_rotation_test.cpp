// Log rotation with the real logrotate: while ringline-client --file delivers, logrotate
// renames the sink file three times and its postrotate sends SIGHUP; the server reopens the
// path. Every line ends up in exactly one of the files, whole, and each rotated file got a
// share of them.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

constexpr int k_lines = 100'000;
constexpr std::size_t k_line_bytes = 13;  // "line-" + 7 digits + '\n'

void rotate_while_delivering(bool durable) {
  const test_support::temp_dir dir;
  const auto input = dir.file("input.txt");
  const auto sink = dir.file("lines.log");
  std::string text;
  for (int i = 0; i < k_lines; ++i) {
    text += fmt::format("line-{:07}\n", i);
  }
  write_file(input, text);

  // The postrotate of docs/operations.md without systemd: the pid from --pidfile, so that the
  // signal reaches this server and no other instance on the machine.
  const auto pidfile = dir.file("ringline.pid");
  std::vector<std::string> args = {"--sink", sink.string(), "--quiet", "--pidfile",
                                   pidfile.string()};
  if (durable) {
    args.emplace_back("--durable");
  }
  auto server = start_server(args);
  const auto config = dir.file("logrotate.conf");
  write_file(config, fmt::format("{} {{\n  rotate 10\n  nocompress\n  missingok\n"
                                 "  postrotate\n    kill -HUP \"$(cat {})\"\n  endscript\n}}\n",
                                 sink.string(), pidfile.string()));
  ::chmod(config.c_str(), 0644);  // logrotate refuses a configuration others may write

  test_support::child_options options;
  options.argv = {test_support::client_path(),
                  "--port",
                  std::to_string(server.port()),
                  "--file",
                  input.string(),
                  "--window",
                  "64",
                  "--quiet"};
  options.stdout_mode = test_support::stdio_mode::null;
  test_support::child_process client(std::move(options));

  const auto total = static_cast<std::uintmax_t>(k_lines) * k_line_bytes;
  int rotations = 0;
  for (int quarter = 1; quarter <= 3; ++quarter) {
    // Each rotation starts a new, empty file: wait for a quarter of the input in it.
    if (!wait_for_size(sink, total / 5, client)) {
      break;
    }
    test_support::child_options logrotate;
    logrotate.argv = {"/usr/sbin/logrotate", "-f", "-s", dir.file("state").string(),
                      config.string()};
    logrotate.stdout_mode = test_support::stdio_mode::null;
    // A fast client could send the rest of its input while logrotate starts up, leaving
    // fewer than three rotations to test: it pauses while logrotate runs, with up to its
    // window of lines still in flight through the rename and the SIGHUP.
    ASSERT_EQ(::kill(client.pid(), SIGSTOP), 0);
    test_support::child_process rotate(std::move(logrotate));
    const auto rotated = rotate.wait_for_exit(k_wait);
    ASSERT_EQ(::kill(client.pid(), SIGCONT), 0);
    ASSERT_EQ(rotated, 0) << rotate.stderr_so_far();
    ++rotations;
    // The server logs the reopen once the write in progress is done.
    ASSERT_TRUE(wait_for_stderr_line(server.process(), "reopened"));
  }
  const auto code = client.wait_for_exit(k_wait);
  ASSERT_EQ(code, 0) << client.stderr_so_far();
  EXPECT_EQ(rotations, 3) << "the client finished before three rotations";
  ASSERT_EQ(server.stop(), 0);

  std::vector<int> seen(k_lines, 0);
  std::size_t malformed = 0;
  std::vector<std::filesystem::path> files = {sink};
  for (int i = 1; i <= rotations; ++i) {
    files.push_back(dir.file(fmt::format("lines.log.{}", i)));
  }
  for (const auto& file : files) {
    const auto written = read_file(file);
    ASSERT_FALSE(written.empty()) << file << " got no lines";
    EXPECT_EQ(written.back(), '\n') << file << " ends with a partial line";
    for (const auto& line : split_lines(written)) {
      const bool ok = line.size() == k_line_bytes - 1 && line.starts_with("line-");
      const int number = ok ? std::stoi(line.substr(5)) : -1;
      if (number < 0 || number >= k_lines) {
        ++malformed;
        continue;
      }
      ++seen[static_cast<std::size_t>(number)];
    }
  }
  EXPECT_EQ(malformed, 0U);
  int missing = 0;
  int doubled = 0;
  for (const int count : seen) {
    missing += count == 0 ? 1 : 0;
    doubled += count > 1 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0) << "acknowledged lines lost in the rotation";
  EXPECT_EQ(doubled, 0) << "lines written to two files";
}

TEST(log_rotation_test, logrotate_and_sighup_lose_and_double_nothing) {
  rotate_while_delivering(false);
}

TEST(log_rotation_test, durable_sink_rotates_the_same_way) {
  rotate_while_delivering(true);
}

}  // namespace
}  // namespace ringline::fault

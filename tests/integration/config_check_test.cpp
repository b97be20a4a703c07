// What --config accepts, what it says about the command line overriding it, and
// --check-config: the real server, run as a process.
// - --config reads regular files of at most 1 MiB; /dev/zero, a FIFO, a directory or a larger
//   file is a usage error (exit 2) at once, never an endless read or a wait for a writer;
// - a flag of the command line that overrides a key of the file is logged once;
// - --check-config validates, opens nothing (no listener, no sink file), prints the settings
//   in the file's syntax (which, fed back, gives the same settings) and exits 0 or 2;
// - a malformed --metrics is a usage error like every bad flag.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/ranges.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_listener.hpp"

namespace ringline::integration {
namespace {

using test_support::server_path;
using test_support::temp_dir;

constexpr std::size_t k_mib = std::size_t{1} << 20;

/// Runs ringline-server with `args`; a run that blocks is killed at the wait and reported
/// with exit code -1.
program_run run_server(std::vector<std::string> args) {
  args.insert(args.begin(), server_path());
  return run_program(std::move(args));
}

/// Returns `settings` padded with comment lines to exactly `bytes` bytes.
std::string padded_to(std::string settings, std::size_t bytes) {
  const std::string comment = "# " + std::string(76, 'x') + "\n";
  while (settings.size() + comment.size() <= bytes) {
    settings += comment;
  }
  settings += std::string(bytes - settings.size() - 1, '#') + "\n";
  return settings;
}

TEST(config_check_test, config_that_is_not_a_regular_file_is_refused_at_once) {
  const temp_dir dir;
  const auto fifo = dir.file("fifo.conf").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const std::vector<std::pair<std::string, std::string_view>> cases = {
      {"/dev/zero", "a character device"},
      {fifo, "a pipe (FIFO)"},
      {dir.path().string(), "a directory"},
  };
  for (const auto& [path, kind] : cases) {
    const auto run = run_server({"--config", path, "--port", "0", "--sink", "none"});
    EXPECT_EQ(run.exit_code, 2) << path << ": " << run.err;
    EXPECT_NE(run.err.find(path + " is " + std::string(kind) + ", not a regular file"),
              std::string::npos)
        << run.err;
  }
}

TEST(config_check_test, config_over_1_mib_is_refused_and_1_mib_is_read) {
  const temp_dir dir;
  const auto fits = dir.file("fits.conf");
  write_file(fits, padded_to("port = 0\nsink = none\n", k_mib));
  ASSERT_EQ(std::filesystem::file_size(fits), k_mib);
  const auto read = run_server({"--config", fits.string(), "--check-config"});
  EXPECT_EQ(read.exit_code, 0) << read.err;
  EXPECT_NE(read.out.find("sink = none\n"), std::string::npos) << read.out;

  const auto large = dir.file("large.conf");
  write_file(large, padded_to("port = 0\nsink = none\n", k_mib + 1));
  const auto refused = run_server({"--config", large.string(), "--check-config"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find(large.string() + " is 1048577 bytes"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("1 MiB"), std::string::npos) << refused.err;
  EXPECT_TRUE(refused.out.empty()) << refused.out;
}

TEST(config_check_test, a_flag_that_overrides_the_file_is_logged_once) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  write_file(config, "port = 10008\ngreeting = from-file\nsink = none\n");
  // --port twice: one override, logged once; greeting and sink come from the file.
  auto server = test_support::server_process::start(
      server_path(), {"--port", "1", "--config", config.string(), "--port", "0", "--threads", "1"},
      k_wait);
  std::string log;
  for (const auto& line : server.startup_lines()) {
    log += line + "\n";
  }
  const auto notice = "--port overrides port from " + config.string();
  EXPECT_EQ(count_of(log, notice), 1U) << log;
  EXPECT_EQ(count_of(log, "overrides"), 1U) << log;
  EXPECT_NE(log.find(" info " + notice), std::string::npos) << log;
  auto client = server.connect();
  EXPECT_EQ(client.read_line(k_wait), "from-file\n");
  client.close();
  EXPECT_EQ(server.stop(), 0);
}

TEST(config_check_test, check_config_prints_the_settings_and_opens_nothing) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  const auto sink = dir.file("lines.log").string();
  write_file(config,
             fmt::format("port = 10008\nsink = {}\ngreeting = \" spaced \"\nidle-timeout = 5m\n"
                         "durable = true\nmax-connections = 7\n",
                         sink));
  // A port another socket holds: a server that listened would fail with exit 1.
  const test_support::test_listener taken;
  const auto port = std::to_string(taken.port());
  const auto run = run_server(
      {"--config", config.string(), "--port", port, "--quiet", "--threads", "3", "--check-config"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(std::filesystem::exists(sink)) << "--check-config created the sink file";
  const auto settings = split_lines(run.out);
  for (const auto& expected :
       {"port = " + port, "sink = " + sink, std::string("greeting = \" spaced \""),
        std::string("idle-timeout = 300s"), std::string("durable = true"),
        std::string("quiet = true"), std::string("threads = 3"), std::string("max-connections = 7"),
        std::string("shutdown-grace = 5s"), std::string("log-level = info"),
        std::string("metrics = \"\"")}) {
    EXPECT_NE(std::find(settings.begin(), settings.end(), expected), settings.end())
        << expected << " missing from:\n"
        << run.out;
  }
  EXPECT_EQ(run.err.find("listening"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--port overrides port from"), std::string::npos) << run.err;
  // Every line is key = value, and no setting is left out (the flags of --help).
  for (const auto& line : settings) {
    EXPECT_NE(line.find(" = "), std::string::npos) << line;
  }
  EXPECT_EQ(run.out.find("check-config"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("config ="), std::string::npos) << run.out;

  // Fed back, the printed settings are the same settings.
  const auto printed = dir.file("printed.conf");
  write_file(printed, run.out);
  const auto again = run_server({"--config", printed.string(), "--check-config"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, run.out);
  EXPECT_FALSE(std::filesystem::exists(sink));
}

TEST(config_check_test, check_config_exits_2_for_what_would_not_start) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  write_file(config, "prot = 10008\n");
  const std::vector<std::vector<std::string>> invalid = {
      {"--config", config.string()},        {"--max-connections", "0"}, {"--metrics", "nope"},
      {"--durable", "--sink", "/dev/null"}, {"--idle-timeout", "soon"},
  };
  for (auto args : invalid) {
    args.emplace_back("--check-config");
    const auto run = run_server(args);
    EXPECT_EQ(run.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << ": " << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
    EXPECT_FALSE(run.err.empty());
  }
}

TEST(config_check_test, malformed_metrics_address_is_a_usage_error) {
  for (const std::string where : {"nope", "127.0.0.1", "127.0.0.1:70000", ":9100", "[::1]:x"}) {
    const auto run = run_server({"--port", "0", "--sink", "none", "--metrics", where});
    EXPECT_EQ(run.exit_code, 2) << where << ": " << run.err;
    EXPECT_NE(run.err.find("--metrics"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("HOST:PORT"), std::string::npos) << run.err;
  }
  // An empty value is "off", as the default.
  const auto off = run_server({"--metrics", "", "--check-config"});
  EXPECT_EQ(off.exit_code, 0) << off.err;
}

}  // namespace
}  // namespace ringline::integration

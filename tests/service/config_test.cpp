#include "service/config.hpp"

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

parse_outcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ringline-server");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(config_test, defaults_match_the_original_server) {
  auto parsed = parse({});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->host, "127.0.0.1");
  EXPECT_EQ(parsed.settings->port, 10008);
  EXPECT_EQ(parsed.settings->greeting, protocol::default_greeting);
  EXPECT_EQ(parsed.settings->ack, protocol::default_ack);
  EXPECT_EQ(parsed.settings->max_line_bytes, 65536U);
  EXPECT_EQ(parsed.settings->sink, "stdout");
  EXPECT_EQ(parsed.settings->idle_timeout, 300s);
  EXPECT_EQ(parsed.settings->line_timeout, 60s);
  EXPECT_EQ(parsed.settings->shutdown_grace, 5s);
  EXPECT_EQ(parsed.settings->sink_timeout, 60s);
}

TEST(config_test, reads_every_flag) {
  const test_support::temp_dir dir;
  const auto sink = dir.file("x").string();
  auto parsed = parse({"--host",
                       "::1",
                       "--port",
                       "0",
                       "--greeting",
                       "hi",
                       "--ack",
                       "ok",
                       "--max-line-bytes",
                       "10",
                       "--max-connections",
                       "3",
                       "--idle-timeout",
                       "7",
                       "--shutdown-grace",
                       "1",
                       "--sink",
                       sink.c_str(),
                       "--durable",
                       "--quiet",
                       "--line-timeout",
                       "9",
                       "--sink-timeout",
                       "11"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->host, "::1");
  EXPECT_EQ(parsed.settings->port, 0);
  EXPECT_EQ(parsed.settings->greeting, "hi");
  EXPECT_EQ(parsed.settings->ack, "ok");
  EXPECT_EQ(parsed.settings->max_line_bytes, 10U);
  EXPECT_EQ(parsed.settings->max_connections, 3U);
  EXPECT_EQ(parsed.settings->idle_timeout, 7s);
  EXPECT_EQ(parsed.settings->shutdown_grace, 1s);
  EXPECT_EQ(parsed.settings->sink, sink);
  EXPECT_TRUE(parsed.settings->durable);
  EXPECT_EQ(parsed.settings->line_timeout, 9s);
  EXPECT_EQ(parsed.settings->sink_timeout, 11s);
  EXPECT_FALSE(parsed.settings->log_connections);
}

TEST(config_test, rejects_bad_values_with_exit_code_2) {
  const std::vector<std::vector<const char*>> bad = {{"--bogus"},
                                                     {"--port", "70000"},
                                                     {"--port", "x"},
                                                     {"--host", "no-such-host.invalid"},
                                                     {"--host", ""},
                                                     {"--greeting", "a\nb"},
                                                     {"--ack", "a\rb"},
                                                     {"--max-line-bytes", "0"},
                                                     {"--sink", ""},
                                                     {"--idle-timeout", "-1"},
                                                     {"--idle-timeout", "5x"},
                                                     {"--line-timeout", "1.5s"},
                                                     {"--sink-timeout", "1d"},
                                                     {"--shutdown-grace", "2h"},
                                                     {"--durable"},
                                                     {"--durable", "--sink", "none"}};
  for (const auto& args : bad) {
    auto parsed = parse(args);
    EXPECT_FALSE(parsed.settings) << args[0];
    EXPECT_EQ(parsed.exit_code, 2) << args[0];
  }
}

TEST(config_test, durations_take_units_and_a_bare_number_is_seconds) {
  const std::vector<std::pair<const char*, std::chrono::milliseconds>> cases = {
      {"300", 300s}, {"300s", 300s}, {"5m", 5min}, {"1h", 1h}, {"250ms", 250ms}, {"0", 0ms}};
  for (const auto& [text, expected] : cases) {
    auto parsed = parse({"--idle-timeout", text, "--line-timeout", text, "--sink-timeout", text,
                         "--shutdown-grace", text});
    ASSERT_TRUE(parsed.settings) << text;
    EXPECT_EQ(parsed.settings->idle_timeout, expected) << text;
    EXPECT_EQ(parsed.settings->line_timeout, expected) << text;
    EXPECT_EQ(parsed.settings->sink_timeout, expected) << text;
    EXPECT_EQ(parsed.settings->shutdown_grace, expected) << text;
  }
}

TEST(config_test, bad_values_get_a_message_a_person_understands) {
  const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--idle-timeout", "5x"},
       "--idle-timeout: '5x' is not a duration; use 300, 300s, 5m, 1h or 250ms"},
      {{"--port", "70000"}, "--port: 70000 is out of range 0..65535"},
      {{"-p", "70000"}, "--port: 70000 is out of range 0..65535"},
      {{"--port", "http"}, "--port: 'http' is not a port number (0..65535)"},
      {{"--shutdown-grace", "2h"}, "--shutdown-grace: '2h' is out of range 0 s..3600 s"},
      {{"--host", "no-such-host.invalid"}, "--host: cannot resolve 'no-such-host.invalid'"},
  };
  for (const auto& [args, message] : cases) {
    testing::internal::CaptureStderr();
    auto parsed = parse(args);
    const auto err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(parsed.exit_code, 2) << args[0];
    EXPECT_NE(err.find(message), std::string::npos) << "expected '" << message << "' in:\n" << err;
  }
}

TEST(config_test, short_options_mean_the_long_ones) {
  auto parsed = parse({"-p", "0", "-q"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->port, 0);
  EXPECT_FALSE(parsed.settings->log_connections);

  testing::internal::CaptureStdout();
  auto version = parse({"-V"});
  EXPECT_NE(testing::internal::GetCapturedStdout().find("ringline-server "), std::string::npos);
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_FALSE(version.settings);

  testing::internal::CaptureStdout();
  auto help = parse({"-h"});
  EXPECT_NE(testing::internal::GetCapturedStdout().find("--sink-timeout"), std::string::npos);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_FALSE(help.settings);
}

TEST(config_test, a_repeated_option_takes_its_last_value) {
  auto parsed = parse({"--port", "1", "-p", "2", "--idle-timeout", "1s", "--idle-timeout", "5m",
                       "--ack", "a", "--ack", "b", "--sink", "none", "--sink", "stdout"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->port, 2);
  EXPECT_EQ(parsed.settings->idle_timeout, 5min);
  EXPECT_EQ(parsed.settings->ack, "b");
  EXPECT_EQ(parsed.settings->sink, "stdout");
}

TEST(config_test, ack_and_greeting_are_bounded_in_length) {
  const std::string longest(k_max_message_text_bytes, 'a');
  const std::string too_long(k_max_message_text_bytes + 1, 'a');
  auto fits = parse({"--ack", longest.c_str(), "--greeting", longest.c_str()});
  ASSERT_TRUE(fits.settings);
  EXPECT_EQ(fits.settings->ack, longest);
  for (const char* flag : {"--ack", "--greeting"}) {
    testing::internal::CaptureStderr();
    auto parsed = parse({flag, too_long.c_str()});
    const auto err = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(parsed.settings) << flag;
    EXPECT_EQ(parsed.exit_code, 2) << flag;
    EXPECT_NE(err.find(std::string(flag) + ": 1025 bytes is longer than the limit of 1024"),
              std::string::npos)
        << err;
  }
}

TEST(config_test, durable_refuses_a_sink_that_is_not_a_regular_file) {
  const test_support::temp_dir dir;
  const auto fifo = dir.file("fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto directory = dir.path().string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/dev/null", "a character device"}, {fifo, "a pipe (FIFO)"}, {directory, "a directory"}};
  for (const auto& [path, what] : cases) {
    testing::internal::CaptureStderr();
    auto parsed = parse({"--durable", "--sink", path.c_str()});
    const auto err = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(parsed.settings) << path;
    EXPECT_EQ(parsed.exit_code, 2) << path;
    std::string expected = "--durable: ";
    expected.append(path).append(" is ").append(what);
    EXPECT_NE(err.find(expected), std::string::npos) << err;
  }
  // Not durable, the same paths are fine; and a durable file that does not exist yet is too.
  EXPECT_TRUE(parse({"--sink", "/dev/null"}).settings);
  const auto fresh = dir.file("new.log").string();
  EXPECT_TRUE(parse({"--durable", "--sink", fresh.c_str()}).settings);
}

TEST(config_test, host_accepts_a_name_that_resolves) {
  auto parsed = parse({"--host", "localhost"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->host, "localhost");
}

TEST(config_test, help_exits_zero_without_settings) {
  testing::internal::CaptureStdout();
  auto parsed = parse({"--help"});
  const auto help = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(parsed.settings);
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_NE(help.find("--max-line-bytes"), std::string::npos);
  // Every default is shown, durations in the form they are read back.
  for (const char* shown : {"=127.0.0.1", "=10008", "=65536", "=10000", "DURATION=300 s",
                            "DURATION=60 s", "DURATION=5 s", "=stdout"}) {
    EXPECT_NE(help.find(shown), std::string::npos) << shown << " missing from:\n" << help;
  }
}

TEST(config_test, threads_default_to_the_cpus_this_process_may_use) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(::sched_getaffinity(0, sizeof mask, &mask), 0);
  auto parsed = parse({});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->threads, static_cast<std::size_t>(CPU_COUNT(&mask)));
  EXPECT_EQ(parsed.settings->threads, default_thread_count());
}

TEST(config_test, threads_accept_1_to_256_and_refuse_the_rest) {
  for (const char* good : {"1", "4", "256"}) {
    auto parsed = parse({"--threads", good});
    ASSERT_TRUE(parsed.settings) << good;
    EXPECT_EQ(parsed.settings->threads, std::stoul(good));
  }
  for (const char* bad : {"0", "257", "-1", "two"}) {
    auto parsed = parse({"--threads", bad});
    EXPECT_FALSE(parsed.settings) << bad;
    EXPECT_EQ(parsed.exit_code, 2) << bad;
  }
}

TEST(config_test, log_level_and_format_take_their_words) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.settings);
  EXPECT_EQ(defaults.settings->log_level, runtime::log_level::info);
  EXPECT_EQ(defaults.settings->log_format, runtime::log_format::text);
  const std::pair<const char*, runtime::log_level> levels[] = {
      {"error", runtime::log_level::error},
      {"warn", runtime::log_level::warn},
      {"info", runtime::log_level::info},
      {"debug", runtime::log_level::debug}};
  for (const auto& [word, level] : levels) {
    auto parsed = parse({"--log-level", word, "--log-format", "json"});
    ASSERT_TRUE(parsed.settings) << word;
    EXPECT_EQ(parsed.settings->log_level, level) << word;
    EXPECT_EQ(parsed.settings->log_format, runtime::log_format::json);
  }
  for (const auto& bad : std::vector<std::vector<const char*>>{
           {"--log-level", "loud"}, {"--log-level", "warning"}, {"--log-format", "xml"}}) {
    testing::internal::CaptureStderr();
    auto parsed = parse(bad);
    const auto err = testing::internal::GetCapturedStderr();
    EXPECT_FALSE(parsed.settings) << bad[1];
    EXPECT_EQ(parsed.exit_code, 2) << bad[1];
    EXPECT_NE(err.find(bad[0]), std::string::npos) << err;
  }
}

TEST(config_test, config_file_sets_flags_and_the_command_line_wins) {
  const test_support::temp_dir dir;
  const auto path = dir.file("ringline.conf");
  {
    std::ofstream file(path);
    file << "# every kind of value\n"
            "port = 1234\n"
            "greeting = \"hello there\"\n"
            "idle-timeout = 7s\n"
            "max-connections = 3\n"
            "quiet = true\n"
            "log-format = json\n";
  }
  const auto config = path.string();
  auto parsed = parse({"--port", "99", "--config", config.c_str(), "--max-connections", "4"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->port, 99);  // the command line, before or after --config
  EXPECT_EQ(parsed.settings->max_connections, 4U);
  EXPECT_EQ(parsed.settings->greeting, "hello there");
  EXPECT_EQ(parsed.settings->idle_timeout, 7s);
  EXPECT_FALSE(parsed.settings->log_connections);
  EXPECT_EQ(parsed.settings->log_format, runtime::log_format::json);
  EXPECT_EQ(parsed.settings->line_timeout, 60s);  // in neither: the default
}

TEST(config_test, config_file_with_an_unknown_key_exits_2_naming_it) {
  const test_support::temp_dir dir;
  const auto path = dir.file("ringline.conf");
  {
    std::ofstream file(path);
    file << "greeting = hi\nmax-conections = 3\n";
  }
  const auto config = path.string();
  testing::internal::CaptureStderr();
  auto parsed = parse({"--config", config.c_str()});
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(parsed.settings);
  EXPECT_EQ(parsed.exit_code, 2);
  EXPECT_NE(err.find("unknown setting 'max-conections'"), std::string::npos) << err;
  EXPECT_NE(err.find(config), std::string::npos) << err;
}

}  // namespace
}  // namespace ringline::service

namespace ringline::service {
namespace {

TEST(config_test, each_loop_has_room_for_a_completion_of_every_connection) {
  config settings;
  settings.max_connections = 10000;
  EXPECT_EQ(loop_options(settings).completion_entries, 11024U);
  settings.max_connections = 1 << 20;
  EXPECT_EQ(loop_options(settings).completion_entries, 65536U);
}

}  // namespace
}  // namespace ringline::service

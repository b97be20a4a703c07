#include "service/config.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/messages.hpp"

namespace ringline::service {
namespace {

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
}

TEST(config_test, reads_every_flag) {
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
                       "/tmp/x",
                       "--durable",
                       "--quiet",
                       "--line-timeout",
                       "9"});
  ASSERT_TRUE(parsed.settings);
  EXPECT_EQ(parsed.settings->host, "::1");
  EXPECT_EQ(parsed.settings->port, 0);
  EXPECT_EQ(parsed.settings->greeting, "hi");
  EXPECT_EQ(parsed.settings->ack, "ok");
  EXPECT_EQ(parsed.settings->max_line_bytes, 10U);
  EXPECT_EQ(parsed.settings->max_connections, 3U);
  EXPECT_EQ(parsed.settings->idle_timeout.count(), 7);
  EXPECT_EQ(parsed.settings->shutdown_grace.count(), 1);
  EXPECT_EQ(parsed.settings->sink, "/tmp/x");
  EXPECT_TRUE(parsed.settings->durable);
  EXPECT_EQ(parsed.settings->line_timeout.count(), 9);
  EXPECT_FALSE(parsed.settings->log_connections);
}

TEST(config_test, rejects_bad_values_with_exit_code_2) {
  const std::vector<std::vector<const char*>> bad = {{"--bogus"},
                                                     {"--port", "70000"},
                                                     {"--port", "x"},
                                                     {"--host", "example"},
                                                     {"--greeting", "a\nb"},
                                                     {"--ack", "a\rb"},
                                                     {"--max-line-bytes", "0"},
                                                     {"--sink", ""},
                                                     {"--idle-timeout", "-1"},
                                                     {"--durable"},
                                                     {"--durable", "--sink", "none"}};
  for (const auto& args : bad) {
    auto parsed = parse(args);
    EXPECT_FALSE(parsed.settings) << args[0];
    EXPECT_EQ(parsed.exit_code, 2) << args[0];
  }
}

TEST(config_test, help_exits_zero_without_settings) {
  testing::internal::CaptureStdout();
  auto parsed = parse({"--help"});
  const auto help = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(parsed.settings);
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_NE(help.find("--max-line-bytes"), std::string::npos);
}

}  // namespace
}  // namespace ringline::service

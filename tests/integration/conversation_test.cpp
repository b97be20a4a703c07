// ringline-client against ringline-server, both real processes, over IPv4 and IPv6 loopback.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_process;
using test_support::temp_dir;

/// Runs each case once per loopback address; the parameter is the --host literal.
class conversation_test : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (host().find(':') != std::string::npos && !has_ipv6_loopback()) {
      GTEST_SKIP() << "this machine cannot bind ::1 (IPv6 loopback disabled)";
    }
  }

  [[nodiscard]] std::string host() const { return GetParam(); }
  [[nodiscard]] std::filesystem::path sink_path() const { return m_dir.file("stdout.txt"); }

  /// Starts a server on host() whose stdout sink is sink_path().
  server_process start(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--host", host()});
    return start_server(std::move(args), sink_path());
  }

  /// Stops `server` with SIGTERM, expects exit code 0, and returns its stdout sink.
  std::string stop_and_read_sink(server_process& server) {
    EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
    return read_file(sink_path());
  }

  temp_dir m_dir;
};

TEST_P(conversation_test, default_conversation_is_byte_exact) {
  auto server = start();
  EXPECT_EQ(server.host(), host());

  const auto client = run_client(client_args_for(server));

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(client.out, std::string(k_greeting) + std::string(k_ack));
  EXPECT_EQ(client.out, "connect\nThank you client , you data is Received success \n");
  EXPECT_EQ(client.err, "");
  EXPECT_EQ(stop_and_read_sink(server), "This data will Send to server!\n");
}

TEST_P(conversation_test, several_messages_including_an_empty_one_are_acked_in_order) {
  auto server = start();
  auto args = client_args_for(server);
  const std::vector<std::string> messages = {"first",      "",         "third line",
                                             "  spaced  ", "\xc3\xbc", "last"};
  for (const auto& message : messages) {
    args.insert(args.end(), {"--message", message});
  }

  const auto client = run_client(args);

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(client.out, std::string(k_greeting) + repeat(k_ack, messages.size()));
  EXPECT_EQ(stop_and_read_sink(server), "first\n\nthird line\n  spaced  \n\xc3\xbc\nlast\n");
}

TEST_P(conversation_test, many_pipelined_messages_keep_their_order) {
  auto server = start();
  auto args = client_args_for(server);
  std::string expected_sink;
  constexpr int k_messages = 300;
  for (int i = 0; i < k_messages; ++i) {
    const auto message = fmt::format("message {}", i);
    args.insert(args.end(), {"--message", message});
    expected_sink += message + "\n";
  }

  const auto client = run_client(args);

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(client.out, std::string(k_greeting) + repeat(k_ack, k_messages));
  EXPECT_EQ(stop_and_read_sink(server), expected_sink);
}

TEST_P(conversation_test, stdin_lines_with_crlf_and_a_trailing_partial_line_are_all_acked) {
  auto server = start();
  auto args = client_args_for(server);
  args.emplace_back("--stdin");

  // Four lines: CRLF-ended, CRLF-ended, empty CRLF line, and a final one without terminator.
  const auto client = run_client(args, std::string("one\r\ntwo words\r\n\r\nthree"));

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(client.out, std::string(k_greeting) + repeat(k_ack, 4));
  EXPECT_EQ(stop_and_read_sink(server), "one\ntwo words\n\nthree\n");
}

TEST_P(conversation_test, large_stdin_stream_is_fully_acked) {
  auto server = start();
  constexpr int k_lines = 100'000;
  std::string input;
  std::string expected_sink;
  for (int i = 0; i < k_lines; ++i) {
    const auto line = fmt::format("stdin line {}", i);
    input += line + (i % 2 == 0 ? "\r\n" : "\n");
    expected_sink += line + "\n";
  }
  const auto input_path = m_dir.file("input.txt");
  write_file(input_path, input);
  // Megabytes each way: stdin comes from a file, so that this test never has to write the
  // client's stdin while the client waits for its stdout to be read.
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "f=$1; shift; exec \"$@\" < \"$f\"",
                                   "sh",
                                   input_path.string(),
                                   test_support::client_path()};
  for (auto& arg : client_args_for(server)) {
    argv.push_back(std::move(arg));
  }
  argv.emplace_back("--stdin");

  const auto client = run_program(argv);

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(std::count(client.out.begin(), client.out.end(), '\n'), k_lines + 1);
  EXPECT_TRUE(client.out == std::string(k_greeting) + repeat(k_ack, k_lines))
      << "stdout is not the greeting and one ack per line";
  EXPECT_TRUE(stop_and_read_sink(server) == expected_sink) << "the sink differs from the input";
}

TEST_P(conversation_test, empty_stdin_gets_the_greeting_only) {
  auto server = start();
  auto args = client_args_for(server);
  args.emplace_back("--stdin");

  const auto client = run_client(args, std::string());

  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(client.out, k_greeting);
  EXPECT_EQ(stop_and_read_sink(server), "");
}

TEST_P(conversation_test, server_logs_connect_and_disconnect_of_the_client) {
  auto server = start();

  const auto client = run_client(client_args_for(server));
  ASSERT_EQ(client.exit_code, 0) << client.err;

  // "disconnect ..." contains "connect ", so the connect line is matched by its prefix.
  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  const std::string peer = connected->substr(std::string_view("connect ").size());
  std::string host_part = endpoint_text(host(), 0);
  host_part.pop_back();  // "127.0.0.1:" or "[::1]:"
  EXPECT_TRUE(peer.starts_with(host_part)) << peer;

  const auto disconnected = wait_for_stderr_prefix(server.process(), "disconnect " + peer + " ");
  ASSERT_TRUE(disconnected) << server.process().stderr_so_far();
  EXPECT_NE(disconnected->find("lines=1"), std::string::npos) << *disconnected;
  EXPECT_EQ(stop_and_read_sink(server), std::string(k_default_message) + "\n");
}

TEST_P(conversation_test, server_logs_the_exact_peer_of_a_raw_connection) {
  auto server = start();
  auto connection = server.connect();
  ASSERT_EQ(connection.read_line(k_wait), k_greeting);
  const std::string peer = endpoint_text(host(), connection.local_port());

  const auto connected = wait_for_stderr_prefix(server.process(), "connect ");
  ASSERT_TRUE(connected) << server.process().stderr_so_far();
  EXPECT_EQ(*connected, "connect " + peer);

  connection.send_all("a\nb\n");
  connection.shutdown_write();
  EXPECT_EQ(connection.read_until_eof(k_wait), repeat(k_ack, 2));
  EXPECT_TRUE(connection.eof());

  const auto disconnected = wait_for_stderr_prefix(server.process(), "disconnect ");
  ASSERT_TRUE(disconnected) << server.process().stderr_so_far();
  EXPECT_TRUE(disconnected->starts_with("disconnect " + peer + " lines=2")) << *disconnected;
  EXPECT_EQ(stop_and_read_sink(server), "a\nb\n");
}

TEST_P(conversation_test, consecutive_clients_append_to_the_same_sink) {
  auto server = start();
  for (int i = 0; i < 5; ++i) {
    auto args = client_args_for(server);
    args.insert(args.end(), {"--message", fmt::format("client {}", i)});
    const auto client = run_client(args);
    ASSERT_EQ(client.exit_code, 0) << client.err;
    ASSERT_EQ(client.out, std::string(k_greeting) + std::string(k_ack));
  }
  EXPECT_EQ(stop_and_read_sink(server), "client 0\nclient 1\nclient 2\nclient 3\nclient 4\n");
}

INSTANTIATE_TEST_SUITE_P(loopback, conversation_test, ::testing::Values("127.0.0.1", "::1"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "::1" ? "ipv6" : "ipv4";
                         });

}  // namespace
}  // namespace ringline::integration

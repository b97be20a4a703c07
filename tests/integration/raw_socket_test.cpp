// The wire protocol of the real ringline-server, checked byte by byte with a raw TCP client.

#include <signal.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/integration_support.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_process;
using test_support::socket_client;
using test_support::temp_dir;

class raw_socket_test : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path stdout_path() const { return m_dir.file("stdout.txt"); }

  /// Starts a server on 127.0.0.1 whose stdout (the default sink) goes to stdout_path().
  server_process start(std::vector<std::string> args = {}) {
    return start_server(std::move(args), stdout_path());
  }

  /// Connects to `server` and reads the greeting, which must be `greeting` exactly.
  static socket_client connect_greeted(const server_process& server,
                                       std::string_view greeting = k_greeting) {
    auto connection = server.connect();
    EXPECT_EQ(connection.read_line(k_wait), greeting);
    return connection;
  }

  /// Stops `server` with SIGTERM, expects exit code 0, and returns what it wrote to stdout.
  std::string stop_and_read_stdout(server_process& server) {
    EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
    return read_file(stdout_path());
  }

  temp_dir m_dir;
};

TEST_F(raw_socket_test, greeting_is_exact_and_alone) {
  auto server = start();
  auto connection = server.connect();

  // Nothing but the greeting comes before the client sends; then the server closes cleanly.
  EXPECT_EQ(connection.read_line(k_wait), "connect\n");
  connection.shutdown_write();
  EXPECT_EQ(connection.read_until_eof(k_wait), "");
  EXPECT_TRUE(connection.eof());
  EXPECT_FALSE(connection.was_reset());
  EXPECT_EQ(stop_and_read_stdout(server), "");
}

TEST_F(raw_socket_test, thousand_lines_in_one_send_get_exactly_thousand_acks) {
  auto server = start();
  auto connection = connect_greeted(server);
  std::string payload;
  for (int i = 0; i < 1000; ++i) {
    payload += fmt::format("line {}\n", i);
  }

  connection.send_all(payload);
  connection.shutdown_write();

  const auto replies = connection.read_until_eof(k_wait);
  EXPECT_TRUE(connection.eof());
  EXPECT_EQ(std::count(replies.begin(), replies.end(), '\n'), 1000);
  EXPECT_EQ(replies, repeat(k_ack, 1000));
  EXPECT_EQ(stop_and_read_stdout(server), payload);
}

TEST_F(raw_socket_test, client_may_send_before_reading_the_greeting) {
  auto server = start();
  auto connection = server.connect();
  connection.send_all("early\n");
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), std::string(k_greeting) + std::string(k_ack));
  EXPECT_EQ(stop_and_read_stdout(server), "early\n");
}

TEST_F(raw_socket_test, back_pressured_client_that_keeps_reading_gets_every_ack) {
  auto server = start();
  auto connection = connect_greeted(server);
  constexpr std::size_t k_lines = 100'000;
  std::string payload;
  for (std::size_t i = 0; i < k_lines; ++i) {
    payload += fmt::format("l{}\n", i);
  }

  // About 5 MB of acks for 0.6 MB of lines: the server's socket buffer fills, so it must stop
  // reading until this client drains its acks. Send and read alternate, each bounded.
  std::string replies;
  std::size_t sent = 0;
  const test_support::deadline until(k_wait * 2);
  for (int round = 0; round < 1'000'000 && sent < payload.size() && !until.expired(); ++round) {
    sent += connection.send_some(std::string_view(payload).substr(sent), 5ms);
    replies += connection.read_until_eof(0ms);
  }
  ASSERT_EQ(sent, payload.size()) << "the server stopped reading for good";
  connection.shutdown_write();
  replies += connection.read_until_eof(until.left());

  EXPECT_TRUE(connection.eof());
  EXPECT_EQ(static_cast<std::size_t>(std::count(replies.begin(), replies.end(), '\n')), k_lines);
  EXPECT_TRUE(replies == repeat(k_ack, k_lines)) << "acks are not all exact";
  EXPECT_TRUE(stop_and_read_stdout(server) == payload) << "the sink differs from what was sent";
}

TEST_F(raw_socket_test, crlf_is_stripped_and_other_carriage_returns_are_kept) {
  auto server = start();
  auto connection = connect_greeted(server);

  // Lines: "a", "b", "", "mid\rdle", "\r" (only the CR right before LF is a terminator).
  connection.send_all("a\r\nb\r\n\r\nmid\rdle\r\n\r\r\n");
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), repeat(k_ack, 5));
  EXPECT_EQ(stop_and_read_stdout(server), "a\nb\n\nmid\rdle\n\r\n");
}

TEST_F(raw_socket_test, lines_split_across_sends_are_reassembled) {
  auto server = start();
  auto connection = connect_greeted(server);

  // Each piece is sent on its own and acked lines are awaited in between, so the server sees
  // the line boundaries at different places within its reads.
  connection.send_all("hel");
  connection.send_all("lo\r");
  connection.send_all("\nwor");
  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  connection.send_all("ld");
  connection.send_all("\n");
  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), "");
  EXPECT_EQ(stop_and_read_stdout(server), "hello\nworld\n");
}

TEST_F(raw_socket_test, binary_and_nul_bytes_reach_a_file_sink_unchanged) {
  const auto sink_path = m_dir.file("sink.bin");
  auto server = start({"--sink", sink_path.string()});
  auto connection = connect_greeted(server);
  std::string every_byte;
  for (int value = 0; value < 256; ++value) {
    if (value != '\n') {
      every_byte.push_back(static_cast<char>(value));
    }
  }
  const std::string lines =
      every_byte + "\n" + std::string(3, '\0') + "\n" + "\xff\xfe invalid \xc3\x28 utf-8\n";

  connection.send_all(lines);
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), repeat(k_ack, 3));
  EXPECT_EQ(stop_and_read_stdout(server), "");  // the file is the sink, not stdout
  EXPECT_EQ(read_file(sink_path), lines);
}

TEST_F(raw_socket_test, empty_lines_are_acked_at_once) {
  auto server = start();
  auto connection = connect_greeted(server);

  connection.send_all("\n");
  EXPECT_EQ(connection.read_line(k_wait), k_ack);  // without waiting for EOF
  connection.send_all("\n\r\n");
  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), "");
  EXPECT_EQ(stop_and_read_stdout(server), "\n\n\n");
}

TEST_F(raw_socket_test, trailing_partial_line_at_eof_is_neither_acked_nor_written) {
  auto server = start();
  auto connection = connect_greeted(server);

  connection.send_all("one\ntwo\npartial");
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), repeat(k_ack, 2));
  EXPECT_TRUE(connection.eof());
  EXPECT_FALSE(connection.was_reset());
  const auto disconnected = wait_for_stderr_prefix(server.process(), "disconnect ");
  ASSERT_TRUE(disconnected) << server.process().stderr_so_far();
  EXPECT_NE(disconnected->find("lines=2"), std::string::npos) << *disconnected;
  EXPECT_EQ(stop_and_read_stdout(server), "one\ntwo\n");
}

TEST_F(raw_socket_test, overlong_line_gets_previous_acks_then_error_then_eof) {
  auto server = start({"--max-line-bytes", "16"});
  auto connection = connect_greeted(server);
  const std::string at_limit(16, 'y');  // 16 bytes of content: the CR is not counted

  connection.send_all("short\n" + at_limit + "\r\n" + std::string(17, 'x') + "\nafter\n");

  // No shutdown_write: the server ends the session by itself.
  EXPECT_EQ(connection.read_until_eof(k_wait),
            repeat(k_ack, 2) + std::string("error: line too long\n"));
  EXPECT_TRUE(connection.eof());
  EXPECT_FALSE(connection.was_reset());
  const auto disconnected = wait_for_stderr_prefix(server.process(), "disconnect ");
  ASSERT_TRUE(disconnected) << server.process().stderr_so_far();
  EXPECT_NE(disconnected->find("line too long"), std::string::npos) << *disconnected;
  connection.close();
  EXPECT_EQ(stop_and_read_stdout(server), "short\n" + at_limit + "\n");
}

TEST_F(raw_socket_test, overlong_line_is_refused_before_its_newline_arrives) {
  auto server = start({"--max-line-bytes", "16"});
  auto connection = connect_greeted(server);

  connection.send_all("ok\n" + std::string(40, 'z'));

  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  EXPECT_EQ(connection.read_line(k_wait), "error: line too long\n");
  EXPECT_TRUE(connection.wait_for_eof(k_wait));
  EXPECT_EQ(connection.buffered(), "");
  connection.close();
  EXPECT_EQ(stop_and_read_stdout(server), "ok\n");
}

TEST_F(raw_socket_test, default_limit_holds_for_lines_spanning_many_reads) {
  auto server = start();
  auto connection = connect_greeted(server);
  const std::string at_limit(65536, 'a');  // --max-line-bytes defaults to 65536

  // Both lines are longer than one receive, so the server assembles them from pieces.
  connection.send_all(at_limit + "\r\n" + std::string(65537, 'b') + "\n");

  EXPECT_EQ(connection.read_until_eof(k_wait),
            std::string(k_ack) + std::string("error: line too long\n"));
  connection.close();
  EXPECT_TRUE(stop_and_read_stdout(server) == at_limit + "\n") << "sink differs";
}

TEST_F(raw_socket_test, carriage_return_at_the_limit_waits_for_its_newline) {
  auto server = start({"--max-line-bytes", "4"});
  auto connection = connect_greeted(server);

  // "abcd\r" is one byte over the limit until the "\n" shows the CR is a terminator. The
  // ack for an earlier line is awaited in between, so the two sends are likely separate reads.
  connection.send_all("x\nabcd\r");
  EXPECT_EQ(connection.read_line(k_wait), k_ack);
  connection.send_all("\nabcd\rX\n");

  EXPECT_EQ(connection.read_until_eof(k_wait), std::string(k_ack) + "error: line too long\n");
  connection.close();
  EXPECT_EQ(stop_and_read_stdout(server), "x\nabcd\n");
}

TEST_F(raw_socket_test, sigusr1_prints_statistics_and_keeps_serving) {
  auto server = start();
  auto connection = connect_greeted(server);
  connection.send_all("one\ntwo\n");
  ASSERT_EQ(connection.read_line(k_wait), k_ack);
  ASSERT_EQ(connection.read_line(k_wait), k_ack);

  ASSERT_TRUE(server.process().send_signal(SIGUSR1));

  const auto stats = wait_for_stderr_prefix(server.process(), "stats:");
  ASSERT_TRUE(stats) << server.process().stderr_so_far();
  EXPECT_NE(stats->find("accepted=1"), std::string::npos) << *stats;
  EXPECT_NE(stats->find("lines=2"), std::string::npos) << *stats;
  connection.send_all("three\n");
  connection.shutdown_write();
  EXPECT_EQ(connection.read_until_eof(k_wait), k_ack);
  EXPECT_EQ(stop_and_read_stdout(server), "one\ntwo\nthree\n");
}

TEST_F(raw_socket_test, custom_greeting_and_ack_texts_are_used) {
  auto server = start({"--greeting", "hello there", "--ack", "got it"});
  auto connection = connect_greeted(server, "hello there\n");

  connection.send_all("a\nb\n");
  connection.shutdown_write();

  EXPECT_EQ(connection.read_until_eof(k_wait), "got it\ngot it\n");
  EXPECT_EQ(stop_and_read_stdout(server), "a\nb\n");
}

TEST_F(raw_socket_test, idle_client_gets_an_idle_timeout_error_then_eof) {
  auto server = start({"--idle-timeout", "1"});
  auto connection = connect_greeted(server);

  EXPECT_EQ(connection.read_line(k_wait), "error: idle timeout\n");
  EXPECT_TRUE(connection.wait_for_eof(k_wait));
  EXPECT_FALSE(connection.was_reset());
  connection.close();
  EXPECT_EQ(stop_and_read_stdout(server), "");
}

TEST_F(raw_socket_test, connection_beyond_the_limit_gets_not_connect_then_eof) {
  auto server = start({"--max-connections", "1"});
  auto first = connect_greeted(server);

  auto second = server.connect();
  EXPECT_EQ(second.read_until_eof(k_wait), "not connect\n");
  EXPECT_TRUE(second.eof());

  // The admitted session is not disturbed by the refusal.
  first.send_all("still here\n");
  first.shutdown_write();
  EXPECT_EQ(first.read_until_eof(k_wait), k_ack);
  EXPECT_EQ(stop_and_read_stdout(server), "still here\n");
}

}  // namespace
}  // namespace ringline::integration

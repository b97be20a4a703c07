// --max-line-bytes: a line over the limit ends its session with "error: line too long" after
// the acks of the lines before it, without waiting for a '\n' that may never come, and
// without disturbing the other sessions.
#include <gtest/gtest.h>

#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::temp_dir;

TEST(line_limit_test, long_line_gets_error_after_the_acks_of_earlier_lines) {
  const temp_dir dir;
  const auto sink_path = dir.file("lines.txt");
  auto server = start_server({"--max-line-bytes", "16", "--sink", sink_path.string(), "--quiet"});
  auto other = connect_greeted(server);
  ASSERT_TRUE(other);
  auto offender = connect_greeted(server);
  ASSERT_TRUE(offender);

  offender->send_all("ok\nthis line is definitely too long\n");
  EXPECT_EQ(offender->read_line(k_wait), k_ack);
  EXPECT_EQ(offender->read_line(k_wait), k_line_too_long);
  EXPECT_TRUE(offender->wait_for_eof(k_wait));
  EXPECT_FALSE(offender->was_reset());
  EXPECT_EQ(offender->buffered(), "");

  // The other session sees nothing unusual: a line of exactly the limit (also with "\r\n",
  // whose '\r' is not part of the message) is accepted.
  other->send_all("fine\n0123456789abcdef\n0123456789abcdef\r\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(other->read_line(k_wait), k_ack) << "ack " << i;
  }
  other->close();
  offender->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  // The rejected line never reached the sink; the lines around it did.
  const auto sink = read_file(sink_path);
  EXPECT_NE(sink.find("ok\n"), std::string::npos) << sink;
  EXPECT_EQ(sink.find("definitely"), std::string::npos) << sink;
  EXPECT_EQ(count_of(sink, "0123456789abcdef\n"), 2U) << sink;
  EXPECT_EQ(split_lines(sink).size(), 4U) << sink;
}

TEST(line_limit_test, endless_line_is_cut_without_waiting_for_a_newline) {
  auto server = start_server({"--max-line-bytes", "16", "--sink", "none", "--quiet"});
  auto other = connect_greeted(server);
  ASSERT_TRUE(other);
  auto offender = connect_greeted(server);
  ASSERT_TRUE(offender);

  // Up to 1 MiB without a '\n', as fast as the socket takes it; the error must come although
  // no line ever ends.
  const std::string endless(std::size_t{1} << 20, 'x');
  std::string_view rest = endless;
  const deadline until(10s);
  std::optional<std::string> reply;
  // Each pass either sends something or waits up to 100 ms for a reply: bounded by `until`.
  while (!until.expired()) {
    if (!rest.empty()) {
      rest.remove_prefix(offender->send_some(rest, 10ms));
    }
    reply = offender->read_line(rest.empty() ? until.left() : 100ms);
    if (reply || offender->eof()) {
      break;
    }
  }
  EXPECT_EQ(reply, k_line_too_long) << "sent " << endless.size() - rest.size() << " bytes";
  EXPECT_TRUE(offender->wait_for_eof(k_wait));
  EXPECT_EQ(offender->buffered(), "");

  other->send_all("unaffected\n");
  EXPECT_EQ(other->read_line(k_wait), k_ack);
  other->close();
  offender->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// An ack means the line reached the sink: a line whose write is still blocked gets no ack. The
// stdout sink is a pipe this test holds, shrunk to its smallest size and filled, so the
// server's next write blocks until the test reads; the ack must wait for exactly that.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::server_process;
using test_support::temp_dir;

/// How long the test waits for an ack that must not come. Only a bounded wait can show that
/// something does not happen; the write it would overtake stays blocked for as long as the
/// test wants, so the bound only limits how late a wrong ack could still be seen, and
/// 300 ms is ample for an ack that the server sends without waiting for anything.
constexpr auto k_no_ack_wait = 300ms;

TEST(ack_after_sink_test, line_blocked_in_a_full_stdout_pipe_is_acked_only_once_written) {
  const temp_dir dir;
  const auto fifo = dir.file("sink.fifo");
  auto reader = open_fifo_reader(fifo);
  ASSERT_TRUE(reader);
  // One page; the kernel may round up, so the size it chose is read back.
  ASSERT_GE(::fcntl(reader.get(), F_SETPIPE_SZ, 4096), 0);
  const int capacity = ::fcntl(reader.get(), F_GETPIPE_SZ);
  ASSERT_GE(capacity, 4096);
  auto options = server_options({"--quiet"});  // the default sink: stdout
  options.stdout_mode = test_support::stdio_mode::file;
  options.stdout_path = fifo.string();
  auto server = server_process::start(std::move(options), k_wait);
  auto client = connect_greeted(server);
  ASSERT_TRUE(client);

  // A line that leaves 5 bytes free in the pipe: it is written at once and acked.
  const std::string filler(static_cast<std::size_t>(capacity) - 6, 'f');
  client->send_all(filler + "\n");
  ASSERT_EQ(client->read_line(k_wait), k_ack);

  // A line of 12 bytes does not fit; a pipe write of up to PIPE_BUF bytes is all or nothing,
  // so the sink's write waits for the test to read.
  client->send_all("second line\n");
  ASSERT_EQ(client->read_line(k_no_ack_wait), std::nullopt)
      << "acked while its line was still waiting for room in the pipe";
  EXPECT_EQ(client->buffered(), "");

  // Draining the pipe lets the write complete, and only then does the ack come.
  EXPECT_EQ(read_pipe(reader.get(), filler.size() + 1, k_wait), filler + "\n");
  EXPECT_EQ(read_pipe(reader.get(), 12, k_wait), "second line\n");
  EXPECT_EQ(client->read_line(k_wait), k_ack);

  client->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(ack_after_sink_test, a_write_that_completes_acks_only_the_sessions_whose_lines_it_wrote) {
  const temp_dir dir;
  const auto fifo = dir.file("sink.fifo");
  auto reader = open_fifo_reader(fifo);
  ASSERT_TRUE(reader);
  // One page of one slot: room is freed only when the whole page has been read.
  ASSERT_GE(::fcntl(reader.get(), F_SETPIPE_SZ, 4096), 0);
  const int capacity = ::fcntl(reader.get(), F_GETPIPE_SZ);
  if (capacity != 4096) {
    GTEST_SKIP() << "the kernel gave the pipe " << capacity << " bytes, not one 4 KiB page";
  }
  auto options = server_options({"--quiet", "--threads", "1"});
  options.stdout_mode = test_support::stdio_mode::file;
  options.stdout_path = fifo.string();
  auto server = server_process::start(std::move(options), k_wait);
  auto first = connect_greeted(server);
  ASSERT_TRUE(first);
  auto second = connect_greeted(server);
  ASSERT_TRUE(second);

  // The pipe is left with 6 bytes free, so the first session's next line (one write of at
  // most PIPE_BUF bytes: all or nothing) waits for the test to read.
  const std::string filler(static_cast<std::size_t>(capacity) - 6, 'f');
  first->send_all(filler + "\n");
  ASSERT_EQ(first->read_line(k_wait), k_ack);
  const std::string big(static_cast<std::size_t>(capacity) - 6, 'b');
  first->send_all(big + "\n");
  ASSERT_EQ(first->read_line(k_no_ack_wait), std::nullopt) << "acked before it fit in the pipe";
  // While that write waits, the second session's line joins the next batch.
  second->send_all("second line\n");
  ASSERT_EQ(second->read_line(k_no_ack_wait), std::nullopt) << "acked while nothing was written";

  // Reading the filler frees the page: the first session's write completes and fills a new
  // page up to 5 bytes, so the second session's 12 bytes now wait in their turn.
  EXPECT_EQ(read_pipe(reader.get(), filler.size() + 1, k_wait), filler + "\n");
  EXPECT_EQ(first->read_line(k_wait), k_ack);
  EXPECT_EQ(second->read_line(k_no_ack_wait), std::nullopt)
      << "acked when another session's write completed, while its own line was still waiting";

  EXPECT_EQ(read_pipe(reader.get(), big.size() + 1, k_wait), big + "\n");
  EXPECT_EQ(read_pipe(reader.get(), 12, k_wait), "second line\n");
  EXPECT_EQ(second->read_line(k_wait), k_ack);

  first->close();
  second->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

// A stdout sink whose reader went away (`ringline-server | head -1` once head has exited):
// writing to the pipe fails with EPIPE. The sink fails, the sessions waiting on it end without
// acks ("sink failed"), and the server keeps running: it must not die of SIGPIPE, which a
// write to a pipe without readers raises unless the signal is ignored or blocked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::server_process;
using test_support::temp_dir;

TEST(sink_sigpipe_test, closed_stdout_pipe_fails_the_sink_without_killing_the_server) {
  const temp_dir dir;
  const auto fifo = dir.file("sink.fifo");
  auto reader = open_fifo_reader(fifo);
  ASSERT_TRUE(reader);
  auto options = server_options({});  // the default sink: stdout
  options.stdout_mode = test_support::stdio_mode::file;
  options.stdout_path = fifo.string();
  auto server = server_process::start(std::move(options), k_wait);

  auto first = connect_greeted(server);
  ASSERT_TRUE(first);
  first->send_all("one\n");
  ASSERT_EQ(first->read_line(k_wait), k_ack);
  ASSERT_EQ(read_pipe(reader.get(), 4, k_wait), "one\n");

  reader.reset();  // the reader exits
  const auto first_peer = peer_text(*first);
  first->send_all("two\n");
  // No ack: the line did not reach the sink.
  EXPECT_EQ(first->read_until_eof(k_wait), "error: sink failed\n");
  const auto ended = wait_for_stderr_line(server.process(), "disconnect " + first_peer);
  ASSERT_TRUE(ended) << "exit code " << server.process().wait_for_exit(0ms).value_or(-1)
                     << " (141: killed by SIGPIPE); stderr:\n"
                     << server.process().stderr_so_far();
  EXPECT_NE(ended->find("(sink failed)"), std::string::npos) << *ended;
  EXPECT_EQ(server.process().wait_for_exit(0ms), std::nullopt);

  // Still running: a new client is told the sink is unavailable instead of being greeted
  // (a pipe whose reader is gone does not come back).
  auto second = server.connect();
  EXPECT_EQ(second.read_until_eof(k_wait), "error: sink unavailable\n");
  first->close();
  second.close();
  const auto code = server.stop(k_wait);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 128 + SIGPIPE) << server.process().stderr_so_far();
  // The failure is logged once, however many sessions meet it.
  EXPECT_EQ(count_of(server.process().stderr_so_far(), "sink: write failed"), 1U)
      << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

#include "client/sources.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "runtime/event_loop.hpp"

namespace ringline::client {
namespace {

runtime::task<std::string> drain(line_source* source, std::size_t* lines) {
  std::string all;
  for (int guard = 0; guard < 10'000; ++guard) {
    auto count = co_await source->read_lines(all, 16, nullptr);
    EXPECT_TRUE(count);
    if (!count || *count == 0) {
      break;
    }
    *lines += *count;
  }
  co_return all;
}

TEST(sources_test, vector_source_ends_every_line_with_newline) {
  vector_source source({"a", "", "c"});
  runtime::event_loop loop;
  std::size_t lines = 0;
  EXPECT_EQ(loop.run(drain(&source, &lines)), "a\n\nc\n");
  EXPECT_EQ(lines, 3U);
}

TEST(sources_test, fd_source_sends_whole_lines_and_terminates_the_last) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const std::string input = "first\r\nsecond\n\nlast without newline";
  ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  fd_source source(fds[0]);
  runtime::event_loop loop;
  std::size_t lines = 0;
  EXPECT_EQ(loop.run(drain(&source, &lines)), input + "\n");
  EXPECT_EQ(lines, 4U);
  ::close(fds[0]);
}

}  // namespace
}  // namespace ringline::client

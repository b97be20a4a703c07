#include "service/sink.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::service {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream file(path, std::ios::binary);
  file << content;
}

runtime::task<void> append_all(sink* out, std::vector<std::vector<std::string_view>> batches) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(out->run());
  for (const auto& batch : batches) {
    auto written = co_await out->append(batch);
    EXPECT_TRUE(written) << written.error().message();
  }
  out->stop();
  co_await loop.wait_for_spawned();
}

TEST(sink_test, appends_lines_to_an_existing_file) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, "old\n");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->repaired_bytes(), 0U);
  runtime::event_loop loop;
  loop.run(append_all(opened->get(), {{"a", ""}, {std::string_view("b\0c", 3)}}));
  EXPECT_EQ(read_file(path), std::string("old\na\n\nb\0c\n", 11));
}

/// Marks `path` as a crashed server would leave it: its writer mark still set.
void mark_as_crashed_writer(const std::filesystem::path& path, std::string_view value) {
  ASSERT_EQ(::setxattr(path.c_str(), "user.ringline.writer", value.data(), value.size(), 0), 0)
      << std::strerror(errno);
}

TEST(sink_test, cuts_a_torn_last_line_a_crashed_writer_left) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, "kept\ntorn");
  mark_as_crashed_writer(path, "pid=1 max_line_bytes=65536");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->repaired_bytes(), 4U);
  runtime::event_loop loop;
  loop.run(append_all(opened->get(), {{"next"}}));
  EXPECT_EQ(read_file(path), "kept\nnext\n");
}

TEST(sink_test, cuts_a_file_of_one_torn_line_no_longer_than_the_writers_limit) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, std::string(100'001, 'x'));  // a 100,000-byte line and its '\r'
  mark_as_crashed_writer(path, "pid=1 max_line_bytes=100000");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->repaired_bytes(), 100'001U);
  EXPECT_EQ(read_file(path), "");
}

TEST(sink_test, refuses_a_tail_longer_than_the_writers_limit) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  const std::string content = "a\n" + std::string(1002, 'x');
  write_file(path, content);
  mark_as_crashed_writer(path, "pid=1 max_line_bytes=1000");
  std::string why;
  auto opened = sink::open(path.string(), sink_options{}, why);
  EXPECT_FALSE(opened);
  EXPECT_NE(why.find("longer than 1001 bytes"), std::string::npos) << why;
  EXPECT_EQ(read_file(path), content);
}

TEST(sink_test, refuses_an_unterminated_tail_without_a_writer_mark) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, "notes\nno newline");
  std::string why;
  auto opened = sink::open(path.string(), sink_options{}, why);
  EXPECT_FALSE(opened);
  EXPECT_NE(why.find("unterminated line of 10 bytes"), std::string::npos) << why;
  EXPECT_EQ(read_file(path), "notes\nno newline");
}

TEST(sink_test, a_second_open_of_the_same_file_is_refused) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  auto first = sink::open(path.string());
  ASSERT_TRUE(first);
  std::string why;
  auto second = sink::open(path.string(), sink_options{}, why);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::operation_would_block);
  EXPECT_NE(why.find("pid " + std::to_string(::getpid())), std::string::npos) << why;
}

TEST(sink_test, clean_stop_removes_the_writer_mark) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  {
    auto opened = sink::open(path.string());
    ASSERT_TRUE(opened);
    EXPECT_GT(::getxattr(path.c_str(), "user.ringline.writer", nullptr, 0), 0);
    runtime::event_loop loop;
    loop.run(append_all(opened->get(), {{"line"}}));
  }
  EXPECT_LT(::getxattr(path.c_str(), "user.ringline.writer", nullptr, 0), 0);
  EXPECT_EQ(errno, ENODATA);
}

runtime::task<void> append_repeatedly(sink* target, int id, int* remaining,
                                      runtime::event* all_done) {
  const std::string line = "writer " + std::to_string(id);
  for (int i = 0; i < 50; ++i) {
    const std::string_view one[] = {line};
    auto written = co_await target->append(one);
    EXPECT_TRUE(written);
  }
  if (--*remaining == 0) {
    all_done->set();
  }
}

runtime::task<void> many_writers(sink* out, int writers) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(out->run());
  int remaining = writers;
  runtime::event all_done;
  for (int writer = 0; writer < writers; ++writer) {
    loop.spawn(append_repeatedly(out, writer, &remaining, &all_done));
  }
  co_await all_done;
  out->stop();
  co_await loop.wait_for_spawned();
}

TEST(sink_test, concurrent_appends_are_written_whole) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  runtime::event_loop loop;
  loop.run(many_writers(opened->get(), 20));
  std::istringstream content(read_file(path));
  std::map<std::string, int> counts;
  for (std::string line; std::getline(content, line);) {
    ++counts[line];
  }
  ASSERT_EQ(counts.size(), 20U);
  for (const auto& [line, count] : counts) {
    EXPECT_EQ(count, 50) << line;
  }
}

TEST(sink_test, durable_file_sink_flushes_before_acknowledging) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  auto opened = sink::open(path.string(), true);
  ASSERT_TRUE(opened);
  EXPECT_TRUE((*opened)->durable());
  runtime::event_loop loop;
  loop.run(many_writers(opened->get(), 8));
  EXPECT_FALSE((*opened)->failure());
  std::istringstream content(read_file(path));
  std::size_t lines = 0;
  for (std::string line; std::getline(content, line);) {
    ++lines;
  }
  EXPECT_EQ(lines, 8U * 50U);
}

/// Caps the size of files this process writes (RLIMIT_FSIZE), so that a write past it fails
/// with EFBIG as a full disk would, without root; restores the limit and SIGXFSZ after.
class file_size_cap {
 public:
  explicit file_size_cap(rlim_t bytes) {
    m_saved_signal = std::signal(SIGXFSZ, SIG_IGN);
    if (::getrlimit(RLIMIT_FSIZE, &m_saved) == 0) {
      const rlimit capped{bytes, m_saved.rlim_max};
      m_set = ::setrlimit(RLIMIT_FSIZE, &capped) == 0;
    }
  }
  file_size_cap(const file_size_cap&) = delete;
  file_size_cap& operator=(const file_size_cap&) = delete;
  ~file_size_cap() {
    if (m_set) {
      (void)::setrlimit(RLIMIT_FSIZE, &m_saved);
    }
    (void)std::signal(SIGXFSZ, m_saved_signal);
  }
  [[nodiscard]] bool set() const noexcept { return m_set; }

 private:
  rlimit m_saved{};
  void (*m_saved_signal)(int) = nullptr;
  bool m_set = false;
};

runtime::task<void> await_after_the_failure(sink* out, std::string_view line,
                                            runtime::result<void>* outcome) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(out->run());
  const std::string_view one[] = {line};
  // Appended, then awaited only after the writer tried it and failed: as a session on another
  // thread can be, between its append() and its suspension.
  auto written = out->append(one);
  for (int turn = 0; turn < 1000 && !out->failure(); ++turn) {
    (void)co_await runtime::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(out->failure());
  *outcome = co_await written;
  out->stop();
  co_await loop.wait_for_spawned();
}

TEST(sink_test, a_line_whose_write_failed_before_it_was_awaited_is_not_acknowledged) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, "kept\n");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  const file_size_cap cap(64);
  ASSERT_TRUE(cap.set());
  runtime::result<void> outcome;
  runtime::event_loop loop;
  loop.run(await_after_the_failure(opened->get(), std::string(100, 'x'), &outcome));
  EXPECT_FALSE(outcome) << "a line that is not in the file was acknowledged";
  EXPECT_EQ(read_file(path), "kept\n");
}

TEST(sink_test, only_a_file_can_be_durable) {
  for (const char* spec : {"stdout", "none"}) {
    auto opened = sink::open(spec, true);
    ASSERT_FALSE(opened) << spec;
    EXPECT_EQ(opened.error(), std::errc::invalid_argument);
  }
}

TEST(sink_test, open_reports_a_missing_directory) {
  auto opened = sink::open("/nonexistent-ringline-dir/log");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace ringline::service

#include "service/sink.hpp"

#include <gtest/gtest.h>

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

TEST(sink_test, cuts_a_torn_last_line_at_open) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, "kept\ntorn");
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->repaired_bytes(), 4U);
  runtime::event_loop loop;
  loop.run(append_all(opened->get(), {{"next"}}));
  EXPECT_EQ(read_file(path), "kept\nnext\n");
}

TEST(sink_test, file_of_only_a_torn_line_is_emptied) {
  test_support::temp_dir dir;
  const auto path = dir.file("log");
  write_file(path, std::string(100'000, 'x'));
  auto opened = sink::open(path.string());
  ASSERT_TRUE(opened);
  EXPECT_EQ((*opened)->repaired_bytes(), 100'000U);
  EXPECT_EQ(read_file(path), "");
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

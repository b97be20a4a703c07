// Issue 9's crash test: ringline-client --file --retry-for keeps delivering while the server
// is killed with SIGKILL three times and restarted on the same port and sink file. Nothing
// acknowledged may be lost, no partial line may remain, and every duplicate in the sink must
// be one the client reported as resent.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/delivery_summary.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_listener.hpp"

namespace ringline::fault {
namespace {

/// The number of lines; each run takes a few seconds here (under ASan, more).
constexpr int k_lines = 200'000;
constexpr std::string_view k_line_prefix = "line-";
constexpr std::size_t k_line_bytes = 13;  // "line-" + 7 digits + '\n'

std::string numbered_lines(int count) {
  std::string text;
  text.reserve(static_cast<std::size_t>(count) * k_line_bytes);
  for (int i = 0; i < count; ++i) {
    text += fmt::format("line-{:07}\n", i);
  }
  return text;
}

test_support::server_process start_server_on(std::uint16_t port, const std::filesystem::path& sink,
                                             bool durable) {
  test_support::child_options options;
  options.argv = {test_support::server_path(), "--host", "127.0.0.1",   "--port",
                  std::to_string(port),        "--sink", sink.string(), "--quiet"};
  if (durable) {
    options.argv.emplace_back("--durable");
  }
  options.stdout_mode = test_support::stdio_mode::null;
  // A killed server's listening socket outlives the process for a moment: the kernel tears
  // its io_uring down asynchronously, and pending accepts hold the socket until then. No
  // event tells when, so a bind that finds the port still in use is retried, for a while.
  for (const test_support::deadline until(k_wait);;) {
    try {
      return test_support::server_process::start(options, k_wait);
    } catch (const std::runtime_error& error) {
      if (until.expired() || std::string_view(error.what()).find("in use") == std::string::npos) {
        throw;
      }
    }
    (void)::poll(nullptr, 0, 10);
  }
}

/// How often each input line occurs in the sink, and what in the sink is not an input line.
struct sink_census {
  std::vector<int> seen;
  std::size_t malformed = 0;
  std::size_t duplicates = 0;
  std::size_t missing = 0;
};

sink_census take_census(std::string_view sink) {
  sink_census census;
  census.seen.assign(k_lines, 0);
  for (const auto& line : split_lines(sink)) {
    const bool well_formed =
        line.size() == k_line_bytes - 1 && line.starts_with(k_line_prefix) &&
        line.find_first_not_of("0123456789", k_line_prefix.size()) == std::string::npos;
    const int number = well_formed ? std::stoi(line.substr(k_line_prefix.size())) : -1;
    if (number < 0 || number >= k_lines) {
      ++census.malformed;
      continue;
    }
    ++census.seen[static_cast<std::size_t>(number)];
  }
  for (const int count : census.seen) {
    census.missing += count == 0 ? 1 : 0;
    census.duplicates += count > 1 ? static_cast<std::size_t>(count - 1) : 0;
  }
  return census;
}

void crash_three_times_while_delivering(bool durable) {
  const test_support::temp_dir dir;
  const auto input = dir.file("input.txt");
  const auto sink = dir.file("sink.txt");
  write_file(input, numbered_lines(k_lines));
  const auto port = test_support::free_port();
  auto server = start_server_on(port, sink, durable);

  test_support::child_options options;
  options.argv = {test_support::client_path(),
                  "--host",
                  "127.0.0.1",
                  "--port",
                  std::to_string(port),
                  "--file",
                  input.string(),
                  "--retry-for",
                  "60",
                  "--quiet"};
  options.stdout_mode = test_support::stdio_mode::null;
  test_support::child_process client(std::move(options));

  const auto total = static_cast<std::uintmax_t>(k_lines) * k_line_bytes;
  int kills = 0;
  for (int quarter = 1; quarter <= 3; ++quarter) {
    if (!wait_for_size(sink, total * static_cast<std::uintmax_t>(quarter) / 4, client)) {
      break;  // the client finished (or failed) first: checked below
    }
    ASSERT_TRUE(server.process().send_signal(SIGKILL));
    ASSERT_TRUE(server.process().wait_for_exit(k_wait));
    ++kills;
    // The same port and file: the server repairs a torn tail at start.
    server = start_server_on(port, sink, durable);
  }

  const auto code = client.wait_for_exit(k_wait);
  const auto err = client.stderr_so_far();
  ASSERT_EQ(code, 0) << err;
  EXPECT_EQ(kills, 3) << "the client finished before the server could be killed three times";
  ASSERT_EQ(server.stop(), 0);

  const auto summary = test_support::parse_delivery_summary(err);
  ASSERT_TRUE(summary.contains("resent")) << err;
  EXPECT_EQ(summary.at("acked"), static_cast<std::uint64_t>(k_lines)) << err;
  EXPECT_GE(summary.at("reconnects"), 3U) << err;
  const auto written = read_file(sink);
  ASSERT_FALSE(written.empty());
  EXPECT_EQ(written.back(), '\n') << "the sink ends with a partial line";
  const auto census = take_census(written);
  EXPECT_EQ(census.malformed, 0U) << "lines in the sink that are not input lines (torn, glued)";
  EXPECT_EQ(census.missing, 0U) << "input lines missing from the sink";
  EXPECT_LE(census.duplicates, summary.at("resent")) << err;
}

TEST(crash_test, durable_sink_survives_three_kills_with_every_line_and_counted_duplicates) {
  crash_three_times_while_delivering(true);
}

TEST(crash_test, page_cache_sink_survives_three_kills_with_every_line_and_counted_duplicates) {
  crash_three_times_while_delivering(false);
}

}  // namespace
}  // namespace ringline::fault

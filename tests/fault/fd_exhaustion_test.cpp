// Running out of descriptors. At start the server raises its soft RLIMIT_NOFILE as far as
// --max-connections needs, or serves fewer connections and says so. When the limit is
// lowered under it while it runs (prlimit), accept fails with EMFILE: the server says so
// once, keeps serving its sessions, leaves the new connections waiting in the backlog, and
// accepts them as soon as sessions that end free descriptors.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;
using test_support::server_process;
using test_support::socket_client;
using test_support::temp_dir;

constexpr std::string_view k_pausing = "pausing accepts until descriptors free up";
constexpr std::string_view k_resuming = "accept: accepting again";

TEST(fd_exhaustion_test, accepts_pause_once_and_resume_when_sessions_end) {
  const temp_dir dir;
  auto options = server_options({"--sink", "none", "--quiet"});
  options.env.push_back(ubsan_options_for_fd_exhaustion(dir));
  auto server = server_process::start(std::move(options), k_wait);
  auto& process = server.process();
  // Lowered after start, under the limit the server computed its connection budget from.
  const rlimit low{32, 32};
  ASSERT_EQ(::prlimit(process.pid(), RLIMIT_NOFILE, &low, nullptr), 0) << std::strerror(errno);

  // Open connections one by one until one gets no greeting because the server logged that
  // it is out of descriptors. --quiet: the accept lines are all the server writes meanwhile.
  std::vector<socket_client> greeted;
  std::vector<socket_client> waiting;
  std::string log;
  bool paused = false;
  for (int i = 0; i < 64 && !paused; ++i) {
    auto client = server.connect();
    bool welcomed = false;
    // Alternates between the two events it waits for; bounded by the deadline.
    for (const deadline until(k_wait); !until.expired();) {
      if (const auto reply = client.read_line(20ms)) {
        ASSERT_EQ(*reply, k_greeting) << "connection " << i;
        welcomed = true;
        break;
      }
      if (const auto line = process.read_stderr_line(0ms)) {
        log += *line + "\n";
        if (line->find(k_pausing) != std::string::npos) {
          paused = true;
          break;
        }
      }
    }
    ASSERT_TRUE(welcomed || paused) << "neither a greeting nor a pause; stderr:\n" << log;
    (welcomed ? greeted : waiting).push_back(std::move(client));
  }
  ASSERT_TRUE(paused) << "64 connections, and the server never ran out of descriptors";
  ASSERT_GE(greeted.size(), 10U);
  ASSERT_EQ(waiting.size(), 1U);
  RecordProperty("sessions_at_exhaustion", std::to_string(greeted.size()));

  // More clients during the pause: they connect (the kernel's backlog) but are not greeted.
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(server.connect());
  }
  const auto sessions = greeted.size() + waiting.size();
  for (auto& each : waiting) {
    EXPECT_EQ(each.read_line(300ms), std::nullopt);
    EXPECT_FALSE(each.eof());
  }
  // The open sessions are served as usual.
  for (std::size_t i = 0; i < greeted.size(); i += 5) {
    greeted[i].send_all("during the pause\n");
    EXPECT_EQ(greeted[i].read_line(k_wait), k_ack) << "session " << i;
  }
  // The server has retried its accept every 100 ms since, and said so once.
  EXPECT_EQ(count_of(process.stderr_so_far(), k_pausing), 1U) << process.stderr_so_far();

  // Ending more sessions than there are waiting clients frees enough descriptors for all.
  for (int i = 0; i < 5; ++i) {
    greeted.back().close();
    greeted.pop_back();
  }
  for (auto& each : waiting) {
    EXPECT_EQ(each.read_line(k_wait), k_greeting);
    each.send_all("after the pause\n");
    EXPECT_EQ(each.read_line(k_wait), k_ack);
  }
  EXPECT_TRUE(wait_for_stderr_line(process, k_resuming)) << process.stderr_so_far();
  EXPECT_EQ(count_of(process.stderr_so_far(), k_pausing), 1U) << process.stderr_so_far();

  greeted.clear();
  waiting.clear();
  EXPECT_EQ(server.stop(k_wait), 0) << process.stderr_so_far();
  const auto err = process.stderr_so_far();
  EXPECT_EQ(count_of(err, k_pausing), 1U) << err;
  EXPECT_EQ(count_of(err, k_resuming), 1U) << err;
  const auto at = err.rfind("stats: ");
  ASSERT_NE(at, std::string::npos) << err;
  const auto summary = err.substr(at, err.find('\n', at) - at);
  const auto counters = parse_stats(summary);
  EXPECT_EQ(counters.at("accepted"), sessions) << summary;
  // One run of failures, however many 100 ms retries it took.
  EXPECT_EQ(counters.at("accept"), 1U) << summary;
}

TEST(fd_exhaustion_test, a_limit_that_cannot_be_raised_lowers_max_connections_and_says_so) {
  const temp_dir dir;
  auto options = server_options({"--sink", "none", "--quiet"});
  options.nofile_limit = 40;  // soft and hard: the server cannot raise it
  options.env.push_back(ubsan_options_for_fd_exhaustion(dir));
  auto server = server_process::start(std::move(options), k_wait);
  auto& process = server.process();
  // Said before the server listens, so it is among the start-up lines.
  std::optional<std::string> warning;
  for (const auto& line : server.startup_lines()) {
    if (line.find("descriptor limit: ") != std::string::npos) {
      warning = line;
    }
  }
  ASSERT_TRUE(warning) << process.stderr_so_far();
  EXPECT_NE(warning->find("--max-connections 10000"), std::string::npos) << *warning;
  const auto at = warning->find("serving at most ");
  ASSERT_NE(at, std::string::npos) << *warning;
  const auto allowed = std::stoul(warning->substr(at + 16));
  ASSERT_GE(allowed, 1U) << *warning;
  ASSERT_LT(allowed, 40U) << *warning;

  // Up to the effective limit every client is greeted; the next one is refused at once
  // instead of waiting ungreeted in the backlog.
  std::vector<socket_client> greeted;
  for (std::size_t i = 0; i < allowed; ++i) {
    auto client = server.connect();
    ASSERT_EQ(client.read_line(k_wait), k_greeting) << "connection " << i << "\n"
                                                    << process.stderr_so_far();
    greeted.push_back(std::move(client));
  }
  auto extra = server.connect();
  EXPECT_EQ(extra.read_line(k_wait), k_refusal) << process.stderr_so_far();
  greeted.clear();
  EXPECT_EQ(server.stop(k_wait), 0) << process.stderr_so_far();
  EXPECT_EQ(count_of(process.stderr_so_far(), "descriptor limit: "), 1U);
}

}  // namespace
}  // namespace ringline::fault

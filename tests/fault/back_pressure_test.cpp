// Back-pressure: a client that pipelines lines and never reads its acks makes the server stop
// reading from it. The kernel's buffers fill, the client's sends stall far before the flood
// is out, the server's memory stays bounded, and the other sessions are served as usual.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"

namespace ringline::fault {
namespace {

using test_support::deadline;

// How much the flooding client would send if nothing stopped it.
constexpr std::size_t k_flood_bytes = std::size_t{200} << 20;
// The most the server may hold resident while flooded. Its buffers are a 16 KiB receive
// buffer and the partial line per session; the rest is code, the ring and the allocator.
constexpr long k_rss_limit_kib = 64L * 1024;

TEST(back_pressure_test, client_that_never_reads_stalls_and_the_server_stays_small) {
  auto server = start_server({"--sink", "none", "--quiet"});
  auto flood = connect_greeted(server);
  ASSERT_TRUE(flood);

  // 64-byte lines in 64 KiB chunks.
  const std::string chunk = repeat(std::string(63, 'x') + "\n", 1024);
  std::size_t sent = 0;
  std::vector<long> rss_samples;
  std::size_t next_sample = 0;
  int empty_rounds = 0;
  // Each pass sends up to 64 KiB or waits 500 ms for room; two empty waits in a row mean the
  // server no longer reads. Bounded by the flood size and by time.
  for (const deadline until(60s); sent < k_flood_bytes && !until.expired();) {
    const auto n = flood->send_some(chunk, 500ms);
    sent += n;
    empty_rounds = n == 0 ? empty_rounds + 1 : 0;
    if (empty_rounds == 2) {
      break;
    }
    if (sent >= next_sample) {
      rss_samples.push_back(server.process().rss_kib());
      next_sample += std::size_t{1} << 20;
    }
  }
  rss_samples.push_back(server.process().rss_kib());

  EXPECT_EQ(empty_rounds, 2) << "never stalled";
  EXPECT_LT(sent, k_flood_bytes);
  RecordProperty("flood_bytes_accepted", std::to_string(sent));
  RecordProperty("rss_samples", std::to_string(rss_samples.size()));
  ASSERT_GE(rss_samples.size(), 3U);
  const long peak = *std::max_element(rss_samples.begin(), rss_samples.end());
  RecordProperty("rss_peak_kib", std::to_string(peak));
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, k_rss_limit_kib) << "sent " << sent << " bytes";

  // Another client is served while the flood is stuck.
  auto other = connect_greeted(server, 10s);
  ASSERT_TRUE(other);
  other->send_all("still served\n");
  EXPECT_EQ(other->read_line(10s), k_ack);
  EXPECT_GT(server.process().rss_kib(), 0);
  EXPECT_LT(server.process().rss_kib(), k_rss_limit_kib);

  // The stuck session resumes once its client reads: acks, in order, nothing else.
  std::size_t acks = 0;
  for (const deadline until(k_wait); acks < 1000 && !until.expired();) {
    const auto line = flood->read_line(until.left());
    ASSERT_EQ(line, k_ack) << "after " << acks << " acks";
    ++acks;
  }
  EXPECT_EQ(acks, 1000U);

  // A reset ends the flooding session at once instead of leaving it to the shutdown grace.
  flood->reset();
  other->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

}  // namespace
}  // namespace ringline::fault

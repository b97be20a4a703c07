// client_limits: the per-address session counts behind --max-connections-per-ip.
#include "service/client_limits.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ringline::service {
namespace {

runtime::address at(const char* host, std::uint16_t port = 1) {
  return runtime::address::parse(host, port).value();
}

TEST(client_limits_test, an_address_gets_at_most_its_limit) {
  client_limits limits;
  auto* first = limits.take(at("192.0.2.1"), 2);
  auto* second = limits.take(at("192.0.2.1"), 2);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(limits.take(at("192.0.2.1"), 2), nullptr);
  EXPECT_EQ(limits.count(at("192.0.2.1")), 2U);
  // Another address is counted on its own.
  auto* other = limits.take(at("192.0.2.2"), 2);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(limits.count(at("192.0.2.2")), 1U);
  limits.release(first);
  limits.release(second);
  limits.release(other);
}

TEST(client_limits_test, a_released_slot_can_be_taken_again_and_the_last_one_empties_it) {
  client_limits limits;
  auto* only = limits.take(at("2001:db8::1"), 1);
  ASSERT_NE(only, nullptr);
  EXPECT_EQ(limits.take(at("2001:db8::1"), 1), nullptr);
  limits.release(only);
  EXPECT_EQ(limits.count(at("2001:db8::1")), 0U);
  auto* again = limits.take(at("2001:db8::1"), 1);
  ASSERT_NE(again, nullptr);
  limits.release(again);
  EXPECT_EQ(limits.count(at("2001:db8::1")), 0U);
}

TEST(client_limits_test, the_port_is_not_part_of_the_address) {
  client_limits limits;
  auto* one = limits.take(at("192.0.2.1", 40000), 1);
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(limits.take(at("192.0.2.1", 40001), 1), nullptr);
  limits.release(one);
}

TEST(client_limits_test, ipv4_and_its_mapped_ipv6_form_are_one_client) {
  // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d; an IPv4 listener as a.b.c.d.
  client_limits limits;
  auto* v4 = limits.take(at("192.0.2.1"), 1);
  ASSERT_NE(v4, nullptr);
  EXPECT_EQ(limits.take(at("::ffff:192.0.2.1"), 1), nullptr);
  EXPECT_EQ(limits.count(at("::ffff:192.0.2.1")), 1U);
  // But not any IPv6 address that ends in the same four bytes.
  auto* v6 = limits.take(at("::c000:201"), 1);
  EXPECT_NE(v6, nullptr);
  limits.release(v4);
  limits.release(v6);
}

TEST(client_limits_test, threads_taking_and_releasing_at_once_never_exceed_the_limit) {
  client_limits limits;
  constexpr std::size_t k_most = 3;
  constexpr int k_threads = 4;
  constexpr int k_rounds = 20000;
  std::atomic<int> holding{0};
  std::atomic<int> worst{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < k_rounds; ++round) {
        auto* slot = limits.take(at("192.0.2.9"), k_most);
        if (slot == nullptr) {
          continue;
        }
        const int now = holding.fetch_add(1) + 1;
        for (int seen = worst.load(); now > seen && !worst.compare_exchange_weak(seen, now);) {
        }
        holding.fetch_sub(1);
        limits.release(slot);
      }
    });
  }
  for (auto& each : threads) {
    each.join();
  }
  EXPECT_LE(worst.load(), static_cast<int>(k_most));
  EXPECT_EQ(limits.count(at("192.0.2.9")), 0U);
}

}  // namespace
}  // namespace ringline::service

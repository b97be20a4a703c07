// The metrics endpoint on a real socket and a real loop: what it answers, and what it closes
// unanswered (oversized, slow, too many at once).
#include "service/metrics_endpoint.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;

struct fixture {
  runtime::address where;
  bool healthy = true;
  int scrapes = 0;
};

// Sends `request` and returns all the endpoint answered until it closed.
runtime::task<std::string> exchange(runtime::address where, std::string request) {
  auto socket = runtime::open_tcp_socket(AF_INET);
  EXPECT_TRUE(socket);
  EXPECT_TRUE(co_await runtime::connect(socket->get(), where));
  if (!request.empty()) {
    EXPECT_TRUE(co_await runtime::send_all(socket->get(), request));
  }
  std::string answer;
  std::vector<char> buffer(4096);
  for (;;) {
    auto got = co_await runtime::recv_some(socket->get(), buffer, {.timeout = 10s});
    if (!got || *got == 0) {
      break;
    }
    answer.append(buffer.data(), *got);
  }
  co_return answer;
}

runtime::task<void> scenario(fixture* shared, metrics_endpoint* endpoint,
                             std::vector<std::string>* answers, std::vector<std::string> requests) {
  for (auto& request : requests) {
    answers->push_back(co_await exchange(shared->where, std::move(request)));
  }
  endpoint->stop();
}

std::vector<std::string> run_requests(fixture& shared, std::vector<std::string> requests,
                                      std::uint64_t* answered = nullptr) {
  runtime::event_loop loop;
  auto listener = runtime::listen_tcp(*runtime::address::parse("127.0.0.1", 0));
  EXPECT_TRUE(listener);
  shared.where = *runtime::local_address(listener->get());
  metrics_endpoint endpoint(
      std::move(*listener),
      [&shared] {
        ++shared.scrapes;
        return std::string("ringline_up 1\n");
      },
      [&shared] {
        return shared.healthy ? health_report{true, "ok"} : health_report{false, "draining"};
      });
  std::vector<std::string> answers;
  loop.spawn(scenario(&shared, &endpoint, &answers, std::move(requests)));
  loop.run(endpoint.run());
  if (answered != nullptr) {
    *answered = endpoint.answered();
  }
  return answers;
}

TEST(metrics_endpoint_test, answers_metrics_health_and_errors) {
  fixture shared;
  const auto answers = run_requests(
      shared, {"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", "GET /health HTTP/1.1\r\n\r\n",
               "GET /other HTTP/1.1\r\n\r\n", "POST /metrics HTTP/1.1\r\n\r\n", "nonsense\r\n\r\n",
               "HEAD /metrics HTTP/1.1\r\n\r\n"});
  ASSERT_EQ(answers.size(), 6U);
  EXPECT_EQ(answers[0],
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 14\r\nConnection: close\r\n\r\nringline_up 1\n");
  EXPECT_TRUE(answers[1].starts_with("HTTP/1.1 200 OK\r\n")) << answers[1];
  EXPECT_TRUE(answers[1].ends_with("\r\n\r\nok\n")) << answers[1];
  EXPECT_TRUE(answers[2].starts_with("HTTP/1.1 404 Not Found\r\n")) << answers[2];
  EXPECT_TRUE(answers[3].starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << answers[3];
  EXPECT_TRUE(answers[4].starts_with("HTTP/1.1 400 Bad Request\r\n")) << answers[4];
  EXPECT_TRUE(answers[5].ends_with("Content-Length: 14\r\nConnection: close\r\n\r\n"))
      << answers[5];
  EXPECT_EQ(shared.scrapes, 2);
}

TEST(metrics_endpoint_test, health_is_503_while_unhealthy) {
  fixture shared;
  shared.healthy = false;
  const auto answers = run_requests(shared, {"GET /health HTTP/1.0\r\n\r\n"});
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_TRUE(answers[0].starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << answers[0];
  EXPECT_TRUE(answers[0].ends_with("draining\n")) << answers[0];
}

TEST(metrics_endpoint_test, an_oversized_head_is_closed_unanswered) {
  fixture shared;
  std::uint64_t answered = 99;
  const auto answers =
      run_requests(shared, {"GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a')}, &answered);
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0], "");
  EXPECT_EQ(answered, 0U);
  EXPECT_EQ(shared.scrapes, 0);
}

TEST(metrics_endpoint_test, a_request_that_never_finishes_is_closed_after_two_seconds) {
  fixture shared;
  std::uint64_t answered = 99;
  const auto started = std::chrono::steady_clock::now();
  const auto answers = run_requests(shared, {"GET /metrics HTTP/1.1\r\n"}, &answered);
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0], "");
  EXPECT_EQ(answered, 0U);
  // Closed by the endpoint's own limit, not by the test's 10 s receive limit.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
}

}  // namespace
}  // namespace ringline::service

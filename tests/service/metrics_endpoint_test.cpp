// The metrics endpoint on a real socket and a real loop: what it answers, what it closes
// unanswered (slow, silent), what it answers with an error and a FIN (oversized), and how it
// keeps room for health checks (the oldest silent connection evicted at the bound).
#include "service/metrics_endpoint.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"

namespace ringline::service {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

struct fixture {
  runtime::address where;
  bool healthy = true;
  bool ready = true;
  int scrapes = 0;
};

// What the endpoint sent until it closed, and how it closed.
struct exchanged {
  std::string answer;
  bool fin = false;    // ended by the endpoint's FIN (recv returned 0)
  bool reset = false;  // ended by an RST
};

runtime::task<runtime::unique_fd> connected(runtime::address where) {
  auto socket = runtime::open_tcp_socket(AF_INET);
  EXPECT_TRUE(socket);
  EXPECT_TRUE(co_await runtime::connect(socket->get(), where));
  co_return std::move(*socket);
}

// Reads all the endpoint sends on `socket` until it closes or `limit` passes.
runtime::task<exchanged> read_to_end(int socket, std::chrono::milliseconds limit = 10s) {
  exchanged out;
  std::vector<char> buffer(4096);
  const auto until = clock::now() + limit;
  for (;;) {
    auto got = co_await runtime::recv_some(socket, buffer, {.timeout = until - clock::now()});
    if (!got) {
      out.reset = got.error() == std::errc::connection_reset;
      break;
    }
    if (*got == 0) {
      out.fin = true;
      break;
    }
    out.answer.append(buffer.data(), *got);
  }
  co_return out;
}

// Sends `request` and returns all the endpoint answered until it closed.
runtime::task<exchanged> exchange(runtime::address where, std::string request) {
  auto socket = co_await connected(where);
  if (!request.empty()) {
    EXPECT_TRUE(co_await runtime::send_all(socket.get(), request));
  }
  co_return co_await read_to_end(socket.get());
}

runtime::task<void> scenario(fixture* shared, metrics_endpoint* endpoint,
                             std::vector<std::string>* answers, std::vector<std::string> requests) {
  for (auto& request : requests) {
    answers->push_back((co_await exchange(shared->where, std::move(request))).answer);
  }
  endpoint->stop();
}

// What the endpoint counted, after its run() returned.
struct endpoint_counts {
  std::uint64_t answered = 0;
  std::uint64_t evicted = 0;
};

runtime::task<void> run_then_set(metrics_endpoint* endpoint, runtime::event* done) {
  co_await endpoint->run();
  done->set();
}

runtime::task<void> wait_for(runtime::event* done) {
  co_await *done;
}

// An endpoint on 127.0.0.1:0 whose /metrics says "ringline_up 1"; runs `test` on its loop
// (which must stop the endpoint), then until the endpoint's run() returns.
template <typename Test>
endpoint_counts run_endpoint(fixture& shared, metrics_limits limits, Test test) {
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
      },
      [&shared] {
        return shared.ready ? health_report{true, "ready"}
                            : health_report{false, "connection limit reached"};
      },
      limits);
  runtime::event done;
  loop.spawn(run_then_set(&endpoint, &done));
  loop.run(test(&endpoint));
  loop.run(wait_for(&done));
  return {endpoint.answered(), endpoint.evicted()};
}

std::vector<std::string> run_requests(fixture& shared, std::vector<std::string> requests,
                                      std::uint64_t* answered = nullptr,
                                      metrics_limits limits = {}) {
  std::vector<std::string> answers;
  const auto counts = run_endpoint(shared, limits, [&](metrics_endpoint* self) {
    return scenario(&shared, self, &answers, std::move(requests));
  });
  if (answered != nullptr) {
    *answered = counts.answered;
  }
  return answers;
}

TEST(metrics_endpoint_test, answers_metrics_health_ready_and_errors) {
  fixture shared;
  const auto answers = run_requests(
      shared, {"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", "GET /health HTTP/1.1\r\n\r\n",
               "GET /other HTTP/1.1\r\n\r\n", "POST /metrics HTTP/1.1\r\n\r\n", "nonsense\r\n\r\n",
               "HEAD /metrics HTTP/1.1\r\n\r\n", "GET /ready HTTP/1.1\r\n\r\n",
               "GET /metrics HTTP/1.1garbage\r\n\r\n", "GET /a b HTTP/1.1\r\n\r\n"});
  ASSERT_EQ(answers.size(), 9U);
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
  EXPECT_TRUE(answers[6].starts_with("HTTP/1.1 200 OK\r\n")) << answers[6];
  EXPECT_TRUE(answers[6].ends_with("\r\n\r\nready\n")) << answers[6];
  EXPECT_TRUE(answers[7].starts_with("HTTP/1.1 400 Bad Request\r\n")) << answers[7];
  EXPECT_TRUE(answers[8].starts_with("HTTP/1.1 400 Bad Request\r\n")) << answers[8];
  EXPECT_EQ(shared.scrapes, 2);
}

TEST(metrics_endpoint_test, health_and_ready_are_503_with_their_reasons) {
  fixture shared;
  shared.healthy = false;
  shared.ready = false;
  const auto answers =
      run_requests(shared, {"GET /health HTTP/1.0\r\n\r\n", "GET /ready HTTP/1.0\r\n\r\n"});
  ASSERT_EQ(answers.size(), 2U);
  EXPECT_TRUE(answers[0].starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << answers[0];
  EXPECT_TRUE(answers[0].ends_with("draining\n")) << answers[0];
  EXPECT_TRUE(answers[1].starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << answers[1];
  EXPECT_TRUE(answers[1].ends_with("connection limit reached\n")) << answers[1];
}

runtime::task<void> oversized(fixture* shared, metrics_endpoint* endpoint, exchanged* out) {
  *out = co_await exchange(shared->where, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a'));
  endpoint->stop();
}

TEST(metrics_endpoint_test, an_oversized_head_gets_431_and_a_fin) {
  fixture shared;
  exchanged result;
  const auto started = clock::now();
  const auto counts = run_endpoint(shared, {.request_time = 10s}, [&](metrics_endpoint* self) {
    return oversized(&shared, self, &result);
  });
  EXPECT_TRUE(result.answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      << result.answer;
  EXPECT_TRUE(result.fin) << "the connection was reset, not closed";
  // The FIN follows the answer at once: the endpoint does not wait for the client to close
  // first (it would wait until its deadline, 10 s here).
  EXPECT_LT(clock::now() - started, 5s);
  EXPECT_FALSE(result.reset);
  EXPECT_EQ(counts.answered, 1U);
  EXPECT_EQ(shared.scrapes, 0);
}

TEST(metrics_endpoint_test, an_unfinished_head_is_closed_unanswered_at_the_deadline) {
  fixture shared;
  std::uint64_t answered = 99;
  const auto started = clock::now();
  const auto answers = run_requests(shared, {"GET /metrics HTTP/1.1\r\n"}, &answered,
                                    {.first_bytes = 30s, .request_time = 300ms});
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0], "");
  EXPECT_EQ(answered, 0U);
  // Closed by the endpoint's own limit, not by the test's 10 s receive limit.
  EXPECT_LT(clock::now() - started, 5s);
}

runtime::task<void> silent(fixture* shared, metrics_endpoint* endpoint, exchanged* out) {
  auto socket = co_await connected(shared->where);
  *out = co_await read_to_end(socket.get(), 10s);
  endpoint->stop();
}

TEST(metrics_endpoint_test, a_silent_connection_is_closed_at_the_first_bytes_deadline) {
  fixture shared;
  exchanged result;
  const auto started = clock::now();
  const auto endpoint =
      run_endpoint(shared, {.first_bytes = 200ms, .request_time = 30s},
                   [&](metrics_endpoint* self) { return silent(&shared, self, &result); });
  EXPECT_EQ(result.answer, "");
  EXPECT_TRUE(result.fin);
  EXPECT_LT(clock::now() - started, 5s);
  EXPECT_EQ(endpoint.answered, 0U);
}

// Holds `count` silent connections, then checks which the endpoint closed.
struct crowd_result {
  std::vector<bool> closed;  // per silent connection, in connect order
  exchanged health;
};

runtime::task<void> crowd(fixture* shared, metrics_endpoint* endpoint, std::size_t count,
                          crowd_result* out) {
  std::vector<runtime::unique_fd> held;
  for (std::size_t i = 0; i < count; ++i) {
    held.push_back(co_await connected(shared->where));
  }
  // Answered after every connection before it was accepted (the backlog is in order).
  out->health = co_await exchange(shared->where, "GET /health HTTP/1.1\r\n\r\n");
  for (const auto& each : held) {
    std::array<char, 16> byte{};
    // Evicted ones have their FIN here already; held ones stay silent for the while.
    auto got = co_await runtime::recv_some(each.get(), byte, {.timeout = 300ms});
    out->closed.push_back(got && *got == 0);
  }
  endpoint->stop();
}

TEST(metrics_endpoint_test, at_the_bound_the_oldest_silent_connection_makes_room) {
  fixture shared;
  crowd_result result;
  const auto started = clock::now();
  const auto endpoint =
      run_endpoint(shared, {.max_connections = 4, .first_bytes = 30s, .request_time = 30s},
                   [&](metrics_endpoint* self) { return crowd(&shared, self, 6, &result); });
  EXPECT_TRUE(result.health.answer.starts_with("HTTP/1.1 200 OK\r\n")) << result.health.answer;
  // 6 silent and then the health check at a bound of 4: the three oldest made room.
  EXPECT_EQ(result.closed, (std::vector<bool>{true, true, true, false, false, false}));
  EXPECT_EQ(endpoint.evicted, 3U);
  // stop() closed the rest at once, without waiting for their 30 s deadline.
  EXPECT_LT(clock::now() - started, 10s);
}

// Holds `count` silent connections, stops the endpoint, and records how each ended.
runtime::task<void> stopped_while_held(fixture* shared, metrics_endpoint* endpoint,
                                       std::size_t count, std::vector<exchanged>* out) {
  std::vector<runtime::unique_fd> held;
  for (std::size_t i = 0; i < count; ++i) {
    held.push_back(co_await connected(shared->where));
  }
  // Answered after every connection before it was accepted (the backlog is in order).
  const auto health = co_await exchange(shared->where, "GET /health HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(health.answer.starts_with("HTTP/1.1 200 OK\r\n")) << health.answer;
  endpoint->stop();
  for (const auto& each : held) {
    out->push_back(co_await read_to_end(each.get(), 5s));
  }
}

TEST(metrics_endpoint_test, stop_closes_silent_connections_at_once) {
  fixture shared;
  std::vector<exchanged> ended;
  const auto started = clock::now();
  const auto endpoint = run_endpoint(
      shared, {.max_connections = 64, .first_bytes = 30s, .request_time = 30s},
      [&](metrics_endpoint* self) { return stopped_while_held(&shared, self, 16, &ended); });
  ASSERT_EQ(ended.size(), 16U);
  for (const auto& each : ended) {
    EXPECT_TRUE(each.fin);
    EXPECT_EQ(each.answer, "");
  }
  EXPECT_EQ(endpoint.evicted, 0U);
  // Not the 30 s deadline: closed when stopped.
  EXPECT_LT(clock::now() - started, 4s);
}

}  // namespace
}  // namespace ringline::service

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>

#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"
#include "service/http_request.hpp"

namespace ringline::service {

/// What /health or /ready answers: 200 or 503, and a word or two why.
struct health_report {
  bool healthy = true;
  std::string reason;
};

/// The bounds of the metrics endpoint: the defaults are the product's; tests shorten the
/// deadlines (RINGLINE_TEST_METRICS_DEADLINE_MS, read by metrics_service).
struct metrics_limits {
  /// Connections held at once. When a new one arrives at the bound, the oldest connection
  /// still waiting for its request head is closed to make room.
  std::size_t max_connections = 64;
  /// Time from accept to the first bytes of the request: a scraper sends at once.
  std::chrono::milliseconds first_bytes{1000};
  /// Time from accept to the end of the request head, and for sending the answer.
  std::chrono::milliseconds request_time{2000};
};

/// A small HTTP/1.x endpoint on the loop that serves `GET /metrics` (Prometheus text format),
/// `GET /health` and `GET /ready`, and nothing else (404; 405 for other methods; 400 for what
/// is not HTTP; 431 for a head over 8 KiB). Each connection gets one answer and is closed.
///
/// It must never disturb the line sessions it reports on, and slow or silent clients must
/// not keep health checks out: at most `max_connections` connections at once, the oldest
/// one still reading its head evicted for a new one, a head slower than the deadlines closed
/// unanswered, and everything runs on the loop without blocking.
class metrics_endpoint {
 public:
  using metrics_fn = std::function<std::string()>;
  using health_fn = std::function<health_report()>;

  metrics_endpoint(runtime::unique_fd listener, metrics_fn metrics, health_fn health,
                   health_fn ready, metrics_limits limits = {});

  /// Accepts and answers until stop(); returns once every connection has been closed.
  runtime::task<void> run();

  /// Stops accepting and closes every connection still waiting for its request head;
  /// answers being sent finish (bounded by the request deadline).
  void stop() noexcept;

  /// Returns how many requests got an answer (any status).
  [[nodiscard]] std::uint64_t answered() const noexcept { return m_answered; }

  /// Returns how many connections were closed to make room for newer ones.
  [[nodiscard]] std::uint64_t evicted() const noexcept { return m_evicted_total; }

 private:
  // A connection still reading its request head: the one whose read stop() or an eviction
  // cancels. Lives in m_readers (oldest first) or, once evicted, in m_evicted, until the
  // connection's answer() ends; std::list keeps its address through the splice.
  struct reader {
    runtime::cancellation cancel;
    bool evicted = false;
  };
  using reader_ref = std::list<reader>::iterator;

  runtime::task<void> answer(runtime::unique_fd connection, reader_ref me);
  std::string reply_to(http_target target, bool with_body);
  void evict_oldest() noexcept;
  void forget(reader_ref me) noexcept;

  runtime::unique_fd m_listener;
  metrics_fn m_metrics;
  health_fn m_health;
  health_fn m_ready;
  metrics_limits m_limits;
  std::size_t m_open = 0;  // connections accepted and not yet closed, evicted ones included
  std::list<reader> m_readers;
  std::list<reader> m_evicted;
  std::uint64_t m_answered = 0;
  std::uint64_t m_evicted_total = 0;
  runtime::cancellation m_stop;
  runtime::event* m_idle = nullptr;  // set when the last answer is done, while run() waits
};

}  // namespace ringline::service

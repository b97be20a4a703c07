#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "runtime/cancellation.hpp"
#include "runtime/event.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::service {

/// What /health answers: healthy (200) or not (503), and a word or two why.
struct health_report {
  bool healthy = true;
  std::string reason;
};

/// A small HTTP/1.x endpoint on the loop that serves `GET /metrics` (Prometheus text format)
/// and `GET /health`, and nothing else (404; 405 for other methods; 400 for what is not
/// HTTP). Each connection gets one answer and is closed.
///
/// It must never disturb the line sessions it reports on: at most `max_connections` at once
/// (more are closed unanswered), a request head larger than 8 KiB or slower than 2 s is
/// closed unanswered, and everything runs on the loop without blocking.
class metrics_endpoint {
 public:
  using metrics_fn = std::function<std::string()>;
  using health_fn = std::function<health_report()>;

  metrics_endpoint(runtime::unique_fd listener, metrics_fn metrics, health_fn health,
                   std::size_t max_connections = 16);

  /// Accepts and answers until stop(); returns once every connection has been answered.
  runtime::task<void> run();

  /// Stops accepting; connections being answered finish.
  void stop() noexcept { m_stop.request(); }

  /// Returns how many requests got an answer (any status).
  [[nodiscard]] std::uint64_t answered() const noexcept { return m_answered; }

 private:
  runtime::task<void> answer(runtime::unique_fd connection);

  runtime::unique_fd m_listener;
  metrics_fn m_metrics;
  health_fn m_health;
  std::size_t m_max_connections;
  std::size_t m_open = 0;
  std::uint64_t m_answered = 0;
  runtime::cancellation m_stop;
  runtime::event* m_idle = nullptr;  // set when the last answer is done, while run() waits
};

}  // namespace ringline::service

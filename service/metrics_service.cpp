#include "service/metrics_service.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "runtime/log.hpp"
#include "runtime/resolve.hpp"
#include "runtime/socket.hpp"
#include "service/build_info.hpp"
#include "service/metrics_render.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"
#include "service/worker_threads.hpp"

namespace ringline::service {

namespace {

struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:9100", "[::1]:9100", "localhost:9100".
bool split_host_port(const std::string& where, host_port& out) {
  const auto colon = where.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == where.size()) {
    return false;
  }
  std::string host = where.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const auto* first = where.data() + colon + 1;
  const auto* last = where.data() + where.size();
  const auto [end, error] = std::from_chars(first, last, port);
  if (error != std::errc{} || end != last || port > 65535) {
    return false;
  }
  out = {std::move(host), static_cast<std::uint16_t>(port)};
  return true;
}

// The endpoint's deadlines, shortened by tests through RINGLINE_TEST_METRICS_DEADLINE_MS
// (both the first bytes' and the whole head's) so that they need not sleep through 2 s.
metrics_limits endpoint_limits() {
  metrics_limits limits;
  // Read at setup, where no other thread changes the environment.
  const char* value =
      std::getenv("RINGLINE_TEST_METRICS_DEADLINE_MS");  // NOLINT(concurrency-mt-unsafe)
  unsigned milliseconds = 0;
  if (value != nullptr) {
    const std::string_view text(value);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), milliseconds);
    if (error == std::errc{} && end == text.data() + text.size() && milliseconds > 0) {
      limits.first_bytes = limits.request_time = std::chrono::milliseconds(milliseconds);
    }
  }
  return limits;
}

}  // namespace

metrics_service::metrics_service(runtime::unique_fd listener, const std::string& address)
    : m_listener(std::move(listener)), m_address(address) {}

runtime::result<std::unique_ptr<metrics_service>> metrics_service::open(const std::string& where,
                                                                        std::string& why) {
  host_port target;
  if (!split_host_port(where, target)) {
    why = fmt::format("--metrics {}: expected HOST:PORT, e.g. 127.0.0.1:9100", where);
    return std::errc::invalid_argument;
  }
  auto candidates = runtime::resolve(target.host, target.port);
  if (!candidates || candidates->empty()) {
    why = fmt::format("--metrics {}: cannot resolve {}", where, target.host);
    return candidates ? std::make_error_code(std::errc::address_not_available) : candidates.error();
  }
  // A deep backlog: while a crowd of connections arrives faster than the loop accepts and
  // evicts them, a full queue would drop a health check's SYN (retried only after 1 s).
  auto listener = runtime::listen_tcp(candidates->front(), {.backlog = 1024});
  if (!listener) {
    why = fmt::format("--metrics {}: cannot listen: {}", where, listener.error().message());
    return listener.error();
  }
  auto bound = runtime::local_address(listener->get());
  const std::string text = bound ? bound->to_string() : where;
  return std::make_unique<metrics_service>(std::move(*listener), text);
}

runtime::task<void> metrics_service::run(const server& running, const worker_threads& workers,
                                         const sink& lines, const bool& draining) {
  m_endpoint = std::make_unique<metrics_endpoint>(
      std::move(m_listener),
      [&] {
        metrics_view view;
        view.threads.push_back(running.counters());
        for (auto& each : workers.per_thread_counters()) {
          view.threads.push_back(each);
        }
        for (const auto& each : view.threads) {
          view.total += each;
        }
        view.sink = &lines.metrics();
        view.sink_failing = static_cast<bool>(lines.failure());
        view.draining = draining;
        view.log_dropped_lines = runtime::log_dropped_lines();
        view.metrics_evicted = m_endpoint->evicted();
        view.version = build_version();
        view.backend = io_backend_name();
        view.process = read_process_metrics();
        return render_metrics(view);
      },
      [&] { return judge_health(draining, lines.failure()); },
      [&] {
        // The sum of every thread's gauge: each thread counts its sessions in and out, so it
        // may lag a session that just ended by a moment, never a slot that is free for long.
        stats total = running.counters();
        for (const auto& each : workers.per_thread_counters()) {
          total += each;
        }
        return judge_ready({.draining = draining,
                            .sink_failure = lines.failure(),
                            .active = total.active.load(),
                            .max_connections = running.settings().max_connections});
      },
      endpoint_limits());
  if (m_stopped) {
    m_endpoint->stop();
  }
  co_await m_endpoint->run();
}

void metrics_service::stop() noexcept {
  m_stopped = true;
  if (m_endpoint != nullptr) {
    m_endpoint->stop();
  }
}

}  // namespace ringline::service

#include "service/metrics_endpoint.hpp"

#include <array>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "service/http_request.hpp"

namespace ringline::service {

namespace {

using clock = std::chrono::steady_clock;

// A scraper sends a few hundred bytes at once; anything bigger or slower is not one.
constexpr std::size_t k_max_head_bytes = std::size_t{8} * 1024;
constexpr auto k_request_time = std::chrono::seconds(2);

std::string response(std::string_view status, std::string_view content_type, std::string_view body,
                     bool with_body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, content_type, body.size(), with_body ? body : std::string_view{});
}

}  // namespace

metrics_endpoint::metrics_endpoint(runtime::unique_fd listener, metrics_fn metrics,
                                   health_fn health, std::size_t max_connections)
    : m_listener(std::move(listener)),
      m_metrics(std::move(metrics)),
      m_health(std::move(health)),
      m_max_connections(max_connections) {}

runtime::task<void> metrics_endpoint::run() {
  auto& loop = runtime::event_loop::current();
  runtime::event idle;
  idle.set();
  m_idle = &idle;
  while (!m_stop.requested()) {
    auto accepted = co_await runtime::accept(m_listener.get(), {.timeout = {}, .cancel = &m_stop});
    if (!accepted) {
      if (runtime::is_cancelled(accepted.error())) {
        break;
      }
      // EMFILE and the like: the line sessions matter more; try again a little later.
      (void)co_await runtime::sleep_for(std::chrono::milliseconds(100), &m_stop);
      continue;
    }
    if (m_open >= m_max_connections) {
      continue;  // closed unanswered as `accepted` goes
    }
    ++m_open;
    idle.reset();
    try {
      loop.spawn(answer(std::move(accepted->fd)));
    } catch (...) {
      --m_open;
    }
  }
  m_listener.reset();
  if (m_open > 0) {
    co_await idle;
  }
  m_idle = nullptr;
}

runtime::task<void> metrics_endpoint::answer(runtime::unique_fd connection) {
  std::array<char, k_max_head_bytes> head{};
  std::size_t have = 0;
  const auto deadline = clock::now() + k_request_time;
  http_head parsed;
  while (!parsed.complete && have < head.size()) {
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) {
      break;
    }
    auto got = co_await runtime::recv_some(connection.get(), std::span(head).subspan(have),
                                           {.timeout = left});
    if (!got || *got == 0) {
      break;
    }
    have += *got;
    parsed = parse_http_head({head.data(), have});
  }
  if (parsed.complete) {
    const std::string_view request(head.data(), have);
    const bool with_body = !request.starts_with("HEAD ");
    std::string reply;
    try {
      switch (parsed.target) {
        case http_target::metrics:
          reply = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", m_metrics(),
                           with_body);
          break;
        case http_target::health: {
          const auto report = m_health();
          reply = response(report.healthy ? "200 OK" : "503 Service Unavailable",
                           "text/plain; charset=utf-8", report.reason + "\n", with_body);
          break;
        }
        case http_target::not_found:
          reply = response("404 Not Found", "text/plain; charset=utf-8", "not found\n", with_body);
          break;
        case http_target::bad_method:
          reply = response("405 Method Not Allowed", "text/plain; charset=utf-8",
                           "only GET and HEAD\n", with_body);
          break;
        case http_target::malformed:
          reply = response("400 Bad Request", "text/plain; charset=utf-8", "bad request\n", true);
          break;
      }
    } catch (...) {
      reply.clear();  // no memory for the answer: the scraper sees the connection closed
    }
    if (!reply.empty()) {
      (void)co_await runtime::send_all(connection.get(), reply, {.timeout = k_request_time});
      ++m_answered;
    }
  }
  (void)co_await runtime::close(std::move(connection));
  if (--m_open == 0 && m_idle != nullptr) {
    m_idle->set();
  }
}

}  // namespace ringline::service

#include "service/metrics_endpoint.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"

namespace ringline::service {

namespace {

using clock = std::chrono::steady_clock;

// A scraper sends a few hundred bytes at once; anything bigger or slower is not one.
constexpr std::size_t k_max_head_bytes = std::size_t{8} * 1024;
// What an oversized request may still send after its 431 before the connection is closed:
// reading it lets the close be a FIN (unread data would make the kernel send an RST, which
// can destroy the answer before the client reads it).
constexpr std::size_t k_max_discarded_bytes = std::size_t{64} * 1024;

constexpr std::string_view k_text = "text/plain; charset=utf-8";

std::string response(std::string_view status, std::string_view content_type, std::string_view body,
                     bool with_body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, content_type, body.size(), with_body ? body : std::string_view{});
}

std::string status_response(const health_report& report, bool with_body) {
  return response(report.healthy ? "200 OK" : "503 Service Unavailable", k_text,
                  report.reason + "\n", with_body);
}

}  // namespace

metrics_endpoint::metrics_endpoint(runtime::unique_fd listener, metrics_fn metrics,
                                   health_fn health, health_fn ready, metrics_limits limits)
    : m_listener(std::move(listener)),
      m_metrics(std::move(metrics)),
      m_health(std::move(health)),
      m_ready(std::move(ready)),
      m_limits(limits) {}

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
    // Evicted connections are on their way out: only the others count against the bound.
    if (m_open - m_evicted.size() >= m_limits.max_connections) {
      if (m_readers.empty()) {
        continue;  // every slot is sending an answer: closed unanswered as `accepted` goes
      }
      // A new connection is more likely a scraper or a health check than the oldest silent
      // one, which is what an attacker holding connections open looks like.
      evict_oldest();
    }
    reader_ref me;
    try {
      me = m_readers.emplace(m_readers.end());
    } catch (...) {
      continue;
    }
    ++m_open;
    idle.reset();
    try {
      loop.spawn(answer(std::move(accepted->fd), me));
    } catch (...) {
      forget(me);
      if (--m_open == 0) {
        idle.set();
      }
    }
  }
  m_listener.reset();
  if (m_open > 0) {
    co_await idle;
  }
  m_idle = nullptr;
}

void metrics_endpoint::stop() noexcept {
  m_stop.request();
  // Nobody is waiting for what these connections have not asked yet.
  for (auto& each : m_readers) {
    each.cancel.request();
  }
}

void metrics_endpoint::evict_oldest() noexcept {
  const auto oldest = m_readers.begin();
  oldest->evicted = true;
  m_evicted.splice(m_evicted.end(), m_readers, oldest);
  ++m_evicted_total;
  oldest->cancel.request();
}

void metrics_endpoint::forget(reader_ref me) noexcept {
  (me->evicted ? m_evicted : m_readers).erase(me);
}

std::string metrics_endpoint::reply_to(http_target target, bool with_body) {
  switch (target) {
    case http_target::metrics:
      return response("200 OK", "text/plain; version=0.0.4; charset=utf-8", m_metrics(), with_body);
    case http_target::health:
      return status_response(m_health(), with_body);
    case http_target::ready:
      return status_response(m_ready(), with_body);
    case http_target::not_found:
      return response("404 Not Found", k_text, "not found\n", with_body);
    case http_target::bad_method:
      return response("405 Method Not Allowed", k_text, "only GET and HEAD\n", with_body);
    case http_target::malformed:
      break;
  }
  return response("400 Bad Request", k_text, "bad request\n", true);
}

runtime::task<void> metrics_endpoint::answer(runtime::unique_fd connection, reader_ref me) {
  std::array<char, k_max_head_bytes> head{};
  std::size_t have = 0;
  const auto started = clock::now();
  const auto deadline = started + m_limits.request_time;
  const auto first_bytes_deadline = started + std::min(m_limits.first_bytes, m_limits.request_time);
  http_head parsed;
  while (!parsed.complete && have < head.size()) {
    const auto left = (have == 0 ? first_bytes_deadline : deadline) - clock::now();
    if (left <= clock::duration::zero()) {
      break;
    }
    auto got = co_await runtime::recv_some(connection.get(), std::span(head).subspan(have),
                                           {.timeout = left, .cancel = &me->cancel});
    if (!got || *got == 0) {
      break;
    }
    have += *got;
    parsed = parse_http_head({head.data(), have});
  }
  if (parsed.complete) {
    forget(me);  // asked: from here on bounded by the send deadline, never evicted
    const std::string_view request(head.data(), have);
    std::string reply;
    try {
      reply = reply_to(parsed.target, !request.starts_with("HEAD "));
    } catch (...) {
      reply.clear();  // no memory for the answer: the scraper sees the connection closed
    }
    if (!reply.empty()) {
      (void)co_await runtime::send_all(connection.get(), reply, {.timeout = m_limits.request_time});
      ++m_answered;
    }
  } else if (have == head.size() && !me->cancel.requested()) {
    // Too large to be a scrape, but an HTTP client: it gets a status and a FIN. Still
    // evictable, and bounded by the deadline and k_max_discarded_bytes.
    const auto reply =
        response("431 Request Header Fields Too Large", k_text, "request head over 8 KiB\n", true);
    if (co_await runtime::send_all(connection.get(), reply,
                                   {.timeout = m_limits.request_time, .cancel = &me->cancel})) {
      ++m_answered;
      ::shutdown(connection.get(), SHUT_WR);
      const auto linger_until = clock::now() + m_limits.request_time;
      for (std::size_t discarded = 0; discarded < k_max_discarded_bytes;) {
        const auto left = linger_until - clock::now();
        if (left <= clock::duration::zero()) {
          break;
        }
        auto got = co_await runtime::recv_some(connection.get(), head,
                                               {.timeout = left, .cancel = &me->cancel});
        if (!got || *got == 0) {
          break;
        }
        discarded += *got;
      }
    }
    forget(me);
  } else {
    forget(me);
  }
  (void)co_await runtime::close(std::move(connection));
  if (--m_open == 0 && m_idle != nullptr) {
    m_idle->set();
  }
}

}  // namespace ringline::service

#include <chrono>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "protocol/errc.hpp"
#include "protocol/line_framer.hpp"
#include "runtime/error.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"
#include "service/server.hpp"
#include "service/session.hpp"

namespace ringline::service {

namespace {

using namespace std::chrono_literals;

// How long a closing session keeps reading (and discarding) after its FIN, so the acks and
// the error line it sent are not destroyed by a reset for unread input.
constexpr auto k_linger = 2s;

enum class ending { eof, line_too_long, idle_timeout, shutdown, reset, sink_failed };

std::string_view describe(ending why) {
  switch (why) {
    case ending::eof:
      return "client closed";
    case ending::line_too_long:
      return "line too long";
    case ending::idle_timeout:
      return "idle timeout";
    case ending::shutdown:
      return "server shutdown";
    case ending::reset:
      return "connection error";
    case ending::sink_failed:
      return "sink failed";
  }
  return "?";
}

// Half-closes, then reads and discards until the peer closes or the deadline passes, as
// nginx's lingering_close does: closing with unread input would send a reset, and the peer's
// kernel would drop the acks still queued for it.
runtime::task<void> linger_and_close(runtime::unique_fd fd, runtime::cancellation& cancel) {
  if (runtime::shutdown_write(fd.get())) {
    std::vector<char> discard(4096);
    const auto deadline = std::chrono::steady_clock::now() + k_linger;
    for (;;) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= 0s) {
        break;
      }
      auto got =
          co_await runtime::recv_some(fd.get(), discard, {.timeout = left, .cancel = &cancel});
      if (!got || *got == 0) {
        break;
      }
    }
  }
  (void)co_await runtime::close(std::move(fd));
}

// Sends k acks as slices of the prebuilt batch: one send per batch-full.
runtime::task<runtime::result<void>> send_acks(int fd, const protocol::ack_batch& acks,
                                               std::size_t count, runtime::io_options io) {
  while (count > 0) {
    const auto slice = acks.slice(count);
    if (auto sent = co_await runtime::send_all(fd, slice, io); !sent) {
      co_return sent.error();
    }
    count -= acks.acks_in(slice.size());
  }
  co_return runtime::result<void>{};
}

}  // namespace

session::session(server& owner) : m_server(owner) {
  m_server.m_sessions.insert(this);
  if (m_server.m_stopping) {
    m_read_cancel.request();
  }
}

session::~session() {
  m_server.m_sessions.erase(this);
  m_server.session_ended();
}

runtime::task<void> server::serve(runtime::unique_fd fd, runtime::address peer) {
  session state(*this);
  const runtime::io_options io{.timeout = {}, .cancel = &state.io_cancel()};
  const auto peer_text = peer.to_string();
  if (m_config.log_connections) {
    fmt::print(stderr, "connect {}\n", peer_text);
  }
  (void)runtime::set_no_delay(fd.get());

  ending why = ending::eof;
  std::uint64_t lines_acked = 0;
  if (auto sent = co_await runtime::send_all(fd.get(), m_greeting_line, io); !sent) {
    why = ending::reset;
  } else {
    std::vector<char> buffer(m_config.recv_buffer_bytes);
    protocol::line_framer framer(m_config.max_line_bytes);
    std::vector<std::string_view> lines;
    const runtime::io_options read_options{.timeout = m_config.idle_timeout,
                                           .cancel = &state.read_cancel()};
    for (bool reading = true; reading;) {
      auto got = co_await runtime::recv_some(fd.get(), buffer, read_options);
      if (!got) {
        why = runtime::is_timeout(got.error())     ? ending::idle_timeout
              : runtime::is_cancelled(got.error()) ? ending::shutdown
                                                   : ending::reset;
        break;
      }
      if (*got == 0) {
        break;  // EOF: everything complete is acked; a trailing partial line is no message
      }
      m_stats.bytes += *got;
      framer.feed({buffer.data(), *got});
      lines.clear();
      for (;;) {
        const auto frame = framer.next();
        if (frame.kind == protocol::frame_kind::line) {
          lines.push_back(frame.line);
          continue;
        }
        if (frame.kind == protocol::frame_kind::too_long) {
          why = ending::line_too_long;
          reading = false;
        }
        break;
      }
      if (lines.empty()) {
        continue;
      }
      if (auto written = co_await m_sink.append(lines); !written) {
        why = ending::sink_failed;
        break;
      }
      if (auto acked = co_await send_acks(fd.get(), m_acks, lines.size(), io); !acked) {
        why = ending::reset;
        break;
      }
      lines_acked += lines.size();
      m_stats.lines += lines.size();
    }
  }

  switch (why) {
    case ending::line_too_long:
      ++m_stats.line_too_long;
      (void)co_await runtime::send_all(fd.get(),
                                       protocol::error_line(protocol::errc::line_too_long), io);
      break;
    case ending::idle_timeout:
      ++m_stats.idle_timeouts;
      (void)co_await runtime::send_all(fd.get(), protocol::error_line(protocol::errc::idle_timeout),
                                       io);
      break;
    case ending::reset:
      ++m_stats.resets;
      break;
    case ending::sink_failed:
      ++m_stats.sink_errors;
      break;
    case ending::eof:
    case ending::shutdown:
      break;
  }
  if (m_config.log_connections) {
    fmt::print(stderr, "disconnect {} lines={} ({})\n", peer_text, lines_acked, describe(why));
  }
  if (why == ending::eof || why == ending::reset) {
    (void)co_await runtime::close(std::move(fd));
  } else {
    co_await linger_and_close(std::move(fd), state.io_cancel());
  }
}

}  // namespace ringline::service

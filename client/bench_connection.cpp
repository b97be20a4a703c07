#include "client/bench_connection.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "protocol/messages.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"

namespace ringline::client::detail {

namespace {

// Takes every complete reply line in `data`; each answers the oldest request in flight.
// Returns how many requests were answered.
std::size_t take_replies(bench_connection& conn, std::string_view data, bench_clock::time_point now,
                         bench_worker_context& ctx) {
  const bool check = ctx.options->greeting;
  const std::string_view expected = ctx.expected;
  const std::size_t pipeline = conn.sent_at.size();
  std::size_t answered = 0;
  while (!data.empty()) {
    const auto end = data.find('\n');
    const auto piece = data.substr(0, end);
    if (check && conn.line_matches) {
      conn.line_matches = conn.line_length + piece.size() <= expected.size() &&
                          expected.substr(conn.line_length, piece.size()) == piece;
    }
    conn.line_length += piece.size();
    if (end == std::string_view::npos) {
      break;  // the rest of this line comes with the next receive
    }
    data.remove_prefix(end + 1);
    bool unexpected = check && !(conn.line_matches && conn.line_length + 1 >= expected.size());
    conn.line_length = 0;
    conn.line_matches = true;
    if (conn.outstanding == 0) {
      unexpected = true;  // a reply to nothing
    } else {
      const auto waited = now - conn.sent_at[conn.head];
      ctx.result.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count())));
      conn.head = conn.head + 1 == pipeline ? 0 : conn.head + 1;
      --conn.outstanding;
      ++answered;
    }
    if (unexpected) {
      ++ctx.result.unexpected;
    }
  }
  ctx.result.lines += answered;
  return answered;
}

// How many of `wanted` more requests the current connection may still carry.
std::size_t allowed_here(const bench_connection& conn, std::size_t wanted,
                         const bench_worker_context& ctx) {
  const auto per_connection = ctx.options->lines_per_connection;
  if (per_connection == 0) {
    return wanted;
  }
  return static_cast<std::size_t>(std::min<std::uint64_t>(wanted, per_connection - conn.sent_here));
}

}  // namespace

runtime::task<bool> connect_and_greet(bench_connection* conn, bench_worker_context* ctx) {
  const runtime::io_options io{.timeout = ctx->options->stall_timeout, .cancel = nullptr};
  for (const auto& where : ctx->plan.addresses) {
    auto socket = runtime::open_tcp_socket(where.family());
    if (!socket) {
      continue;
    }
    if (auto connected = co_await runtime::connect(socket->get(), where, io); connected) {
      conn->fd = std::move(*socket);
      break;
    }
  }
  if (!conn->fd) {
    ++ctx->result.errors;
    co_return false;
  }
  (void)runtime::set_no_delay(conn->fd.get());
  if (ctx->options->greeting) {
    // Nothing was sent yet, so the first line is the greeting and nothing follows it.
    std::size_t have = 0;
    for (;;) {
      auto got =
          co_await runtime::recv_some(conn->fd.get(), std::span(conn->buffer).subspan(have), io);
      if (!got || *got == 0) {
        ++ctx->result.errors;
        conn->fd.reset();
        co_return false;
      }
      have += *got;
      const std::string_view text(conn->buffer.data(), have);
      const auto end = text.find('\n');
      if (end != std::string_view::npos) {
        auto line = text.substr(0, end);
        if (line.ends_with('\r')) {
          line.remove_suffix(1);
        }
        if (line != protocol::default_greeting) {
          ++ctx->result.unexpected;  // "not connect" from a full server, or a stranger
          conn->fd.reset();
          co_return false;
        }
        break;
      }
      if (have == conn->buffer.size()) {
        ++ctx->result.unexpected;
        conn->fd.reset();
        co_return false;
      }
    }
  }
  ++ctx->result.connections;
  conn->line_length = 0;
  conn->line_matches = true;
  conn->sent_here = 0;
  co_return true;
}

runtime::task<void> drive(bench_connection* conn, bench_worker_context* ctx) {
  const std::size_t pipeline = conn->sent_at.size();
  const auto per_connection = ctx->options->lines_per_connection;
  const runtime::io_options io{.timeout = {}, .cancel = &conn->cancel};
  std::size_t to_send = ctx->control->reserve(allowed_here(*conn, pipeline, *ctx));
  bool failed = false;
  while (to_send > 0 || conn->outstanding > 0) {
    const int fd = conn->fd.get();
    if (to_send > 0) {
      const auto now = bench_clock::now();
      for (std::size_t i = 0; i < to_send; ++i) {
        conn->sent_at[(conn->head + conn->outstanding + i) % pipeline] = now;
      }
      conn->outstanding += to_send;
      conn->sent_here += to_send;
      const auto bytes = to_send * ctx->line_bytes;
      to_send = 0;
      if (auto sent = co_await runtime::send_all(fd, {ctx->requests.data(), bytes}, io); !sent) {
        failed = true;
        break;
      }
      ctx->result.bytes_sent += bytes;
    }
    auto got = co_await runtime::recv_some(fd, conn->buffer, io);
    if (!got || *got == 0) {
      failed = true;  // reset, closed with replies owed, or given up by the ticker
      break;
    }
    const auto now = bench_clock::now();
    const auto answered = take_replies(*conn, {conn->buffer.data(), *got}, now, *ctx);
    if (ctx->stopping || now >= ctx->deadline) {
      continue;
    }
    if (per_connection != 0 && conn->sent_here == per_connection && conn->outstanding == 0) {
      // Reconnects only for requests the budget grants, so every connection carries some.
      to_send = ctx->control->reserve(
          static_cast<std::size_t>(std::min<std::uint64_t>(pipeline, per_connection)));
      if (to_send == 0) {
        continue;
      }
      (void)co_await runtime::close(std::move(conn->fd));
      if (!co_await connect_and_greet(conn, ctx)) {
        break;  // counted by connect_and_greet
      }
    } else {
      to_send = ctx->control->reserve(allowed_here(*conn, answered, *ctx));
    }
  }
  if (failed) {
    ++ctx->result.errors;
  }
  if (conn->fd) {
    (void)co_await runtime::close(std::move(conn->fd));
  }
  if (--ctx->active == 0) {
    ctx->stop_ticker.request();
  }
}

}  // namespace ringline::client::detail

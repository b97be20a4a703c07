#include "client/bench_worker.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/cancellation.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::client {

namespace {

using bench_clock = std::chrono::steady_clock;

constexpr std::size_t k_receive_bytes = std::size_t{16} * 1024;
constexpr auto k_tick = std::chrono::seconds(1);

// One connection's state; lives in the worker's array for the whole run, so the coroutine
// driving it refers to it by pointer and nothing is allocated per line.
struct connection {
  runtime::unique_fd fd;
  // Lets the ticker give up on a connection whose replies stopped coming.
  runtime::cancellation cancel;
  std::vector<char> buffer;
  // Send times of the requests in flight, a ring with the oldest at `head`.
  std::vector<bench_clock::time_point> sent_at;
  std::size_t head = 0;
  std::size_t outstanding = 0;
  // Requests sent on the current connection, for --lines-per-connection.
  std::uint64_t sent_here = 0;
  // The reply line being read: its length so far, and whether it still matches the ack.
  std::size_t line_length = 0;
  bool line_matches = true;
  bool ready = false;
};

struct worker_context {
  const bench_options* options = nullptr;
  bench_control* control = nullptr;
  bench_worker_plan plan;
  // The request line `pipeline` times: any batch is a prefix of it.
  std::string requests;
  std::size_t line_bytes = 0;
  // The ack followed by "\r": a reply matches when it is a prefix of this at least as long
  // as the ack, so an ack ended by CRLF matches too.
  std::string expected;
  std::unique_ptr<connection[]> connections;
  bench_result result;
  bench_clock::time_point deadline = bench_clock::time_point::max();
  bool stopping = false;
  std::size_t active = 0;
  runtime::cancellation stop_ticker;
};

// Connects, and reads the greeting when one is expected; returns true when the connection is
// ready for requests, false (counted as an error or an unexpected line) when it is not.
runtime::task<bool> connect_and_greet(connection* conn, worker_context* ctx) {
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

runtime::task<void> open_connection(connection* conn, worker_context* ctx) {
  conn->ready = co_await connect_and_greet(conn, ctx);
}

// Takes every complete reply line in `data`; each answers the oldest request in flight.
// Returns how many requests were answered.
std::size_t take_replies(connection& conn, std::string_view data, bench_clock::time_point now,
                         worker_context& ctx) {
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
std::size_t allowed_here(const connection& conn, std::size_t wanted, const worker_context& ctx) {
  const auto per_connection = ctx.options->lines_per_connection;
  if (per_connection == 0) {
    return wanted;
  }
  return static_cast<std::size_t>(std::min<std::uint64_t>(wanted, per_connection - conn.sent_here));
}

// The closed loop of one connection: send what the budget allows, receive, send as many new
// requests as were answered, until nothing is owed and nothing more may be sent. With
// --lines-per-connection, a connection that has had its replies is closed and made again.
runtime::task<void> drive(connection* conn, worker_context* ctx) {
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

// Once a second: publishes progress, and gives up on the connections still waiting when no
// reply at all arrived for stall_timeout (a server that stopped answering must not hang us).
runtime::task<void> tick(worker_context* ctx) {
  auto last_lines = ctx->result.lines;
  auto last_change = bench_clock::now();
  while (ctx->active > 0) {
    if (auto slept = co_await runtime::sleep_for(k_tick, &ctx->stop_ticker); !slept) {
      break;  // every connection is done
    }
    const auto now = bench_clock::now();
    if (ctx->result.lines != last_lines) {
      last_lines = ctx->result.lines;
      last_change = now;
    } else if (now - last_change >= ctx->options->stall_timeout) {
      ctx->stopping = true;
      for (std::size_t i = 0; i < ctx->plan.connections; ++i) {
        ctx->connections[i].cancel.request();
      }
    }
    if (ctx->plan.publish_progress) {
      ctx->control->publish(ctx->plan.index, ctx->result.lines, ctx->result.errors,
                            ctx->result.latency.value_at(0.99));
    }
  }
}

runtime::task<bench_result> work(worker_context* ctx, bool* arrived) {
  auto& loop = runtime::event_loop::current();
  const auto count = ctx->plan.connections;
  for (std::size_t i = 0; i < count; ++i) {
    loop.spawn(open_connection(&ctx->connections[i], ctx));
  }
  co_await loop.wait_for_spawned();
  *arrived = true;
  ctx->control->ready();
  const auto start = bench_clock::now();
  if (ctx->options->lines == 0) {
    ctx->deadline = start + ctx->options->duration;
  }
  ctx->active = static_cast<std::size_t>(std::count_if(
      ctx->connections.get(), ctx->connections.get() + count, [](auto& c) { return c.ready; }));
  for (std::size_t i = 0; i < count; ++i) {
    if (ctx->connections[i].ready) {
      loop.spawn(drive(&ctx->connections[i], ctx));
    }
  }
  if (ctx->active > 0) {
    loop.spawn(tick(ctx));
  }
  co_await loop.wait_for_spawned();
  ctx->result.seconds = std::chrono::duration<double>(bench_clock::now() - start).count();
  if (ctx->plan.publish_progress) {
    ctx->control->publish(ctx->plan.index, ctx->result.lines, ctx->result.errors,
                          ctx->result.latency.value_at(0.99));
  }
  co_return ctx->result;
}

}  // namespace

bench_result run_bench_worker(const bench_options& options, bench_worker_plan plan,
                              bench_control& control) {
  bool arrived = false;
  try {
    // Declared before the loop: the loop's destructor drains operations whose state and
    // buffers live here.
    worker_context ctx;
    ctx.options = &options;
    ctx.control = &control;
    ctx.plan = std::move(plan);
    const auto pipeline = std::max<std::size_t>(1, options.pipeline);
    std::string line = options.payload + (options.crlf ? "\r\n" : "\n");
    ctx.line_bytes = line.size();
    ctx.requests.reserve(line.size() * pipeline);
    for (std::size_t i = 0; i < pipeline; ++i) {
      ctx.requests += line;
    }
    ctx.expected = std::string(protocol::default_ack) + "\r";
    ctx.connections = std::make_unique<connection[]>(ctx.plan.connections);
    for (std::size_t i = 0; i < ctx.plan.connections; ++i) {
      ctx.connections[i].buffer.resize(k_receive_bytes);
      ctx.connections[i].sent_at.resize(pipeline);
    }
    // Room for a receive and a send (or a connect and its timeout) per connection at once.
    const auto depth = std::bit_ceil(std::max<std::size_t>(1024, 2 * ctx.plan.connections + 8));
    runtime::event_loop loop(
        runtime::event_loop_options{.queue_depth = static_cast<unsigned>(depth)});
    return loop.run(work(&ctx, &arrived));
  } catch (...) {
    if (!arrived) {
      control.leave();
    }
    throw;
  }
}

}  // namespace ringline::client

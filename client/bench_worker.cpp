#include "client/bench_worker.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "client/bench_connection.hpp"
#include "client/bench_worker_context.hpp"
#include "protocol/messages.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/task.hpp"

namespace ringline::client {

namespace {

using detail::bench_clock;
using detail::bench_worker_context;

constexpr std::size_t k_receive_bytes = std::size_t{16} * 1024;
constexpr auto k_tick = std::chrono::seconds(1);

runtime::task<void> open_connection(detail::bench_connection* conn, bench_worker_context* ctx) {
  conn->ready = co_await detail::connect_and_greet(conn, ctx);
}

// Once a second: publishes progress, and gives up on the connections still waiting when no
// reply at all arrived for stall_timeout (a server that stopped answering must not hang us).
runtime::task<void> tick(bench_worker_context* ctx) {
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

runtime::task<bench_result> work(bench_worker_context* ctx, bool* arrived) {
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
      loop.spawn(detail::drive(&ctx->connections[i], ctx));
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
    bench_worker_context ctx;
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
    ctx.connections = std::make_unique<detail::bench_connection[]>(ctx.plan.connections);
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

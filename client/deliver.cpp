#include "client/deliver.hpp"

#include <algorithm>
#include <optional>
#include <random>

#include "client/backoff.hpp"
#include "client/unacked_window.hpp"
#include "client/window_source.hpp"
#include "protocol/errc.hpp"
#include "runtime/io.hpp"

namespace ringline::client {

namespace {

using clock = std::chrono::steady_clock;

std::uint64_t pick_seed(std::uint64_t seed) {
  return seed != 0 ? seed : std::random_device{}();
}

std::chrono::milliseconds since(clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start);
}

}  // namespace

runtime::task<runtime::result<delivery_result>> deliver(delivery_options options,
                                                        line_source& lines, reply_handler on_reply,
                                                        progress_handler on_progress) {
  const auto start = clock::now();
  unacked_window window(options.window);
  window_source source(lines, window);
  backoff delays(pick_seed(options.jitter_seed));
  delivery_result done;
  // A reply that no reconnection can cure: the server speaks another protocol, or acks
  // lines it was never sent. Resending to it would only repeat the mistake.
  bool mismatch = false;

  const auto report = [&]() {
    done.lines = source.lines_read();
    done.resent = window.resent();
    done.to_resend = window.sent_unacknowledged();
    done.sent = done.acked + done.to_resend;  // lines are sent, and acknowledged, in order
    done.input_done = source.input_done();
    done.elapsed = since(start);
    if (on_progress) {
      on_progress(done);
    }
  };
  // Counts acks here rather than from converse()'s counters, which restart per connection.
  const auto handle_reply = [&](const protocol::reply& reply) {
    switch (reply.kind) {
      case protocol::reply_kind::ack:
        if (source.acknowledge()) {
          ++done.acked;
        } else {
          mismatch = true;
        }
        break;
      case protocol::reply_kind::need_more:
        report();
        break;
      case protocol::reply_kind::other:
      case protocol::reply_kind::too_long:
        mismatch = true;
        break;
      default:
        break;
    }
    if (on_reply) {
      on_reply(reply);
    }
  };

  std::optional<clock::time_point> failing_since;
  for (;;) {
    window.restart();  // a new connection resends every unacknowledged line first, in order
    const auto acked_before = done.acked;
    done.last_attempt = {};
    auto outcome = co_await converse(options.connection, source, handle_reply, &done.last_attempt);
    if (outcome) {
      done.last_error = {};
      break;
    }
    done.last_error = outcome.error();
    if (source.input_error()) {
      done.last_error = source.input_error();
      break;
    }
    if (mismatch) {
      done.last_error = protocol::errc::unexpected_reply;
      break;
    }
    if (done.last_error == protocol::errc::line_too_long) {
      // The same line would be refused again on every connection: retrying cannot succeed.
      break;
    }
    if (done.acked > acked_before) {
      // This connection worked for a while: the outage starts now, with short delays again.
      failing_since.reset();
      delays.reset();
    }
    const auto now = clock::now();
    if (!failing_since) {
      failing_since = now;
    }
    const auto deadline = *failing_since + options.retry_for;
    if (options.retry_for <= std::chrono::milliseconds::zero() || now >= deadline) {
      break;
    }
    // Rounded up: a zero sleep just short of the deadline would retry in a tight loop.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    done.retry_in = std::min(delays.next(), left);
    report();
    (void)co_await runtime::sleep_for(done.retry_in);
    done.retry_in = {};
    ++done.reconnects;
  }
  report();
  if (done.last_error) {
    co_return done.last_error;
  }
  co_return done;
}

}  // namespace ringline::client

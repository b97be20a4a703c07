// server::serve: one session's conversation, from the greeting (or the PROXY header) through
// lines, sink writes and acks, to the error line, the lingering close and the close.
#include "service/server.hpp"

#include <chrono>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/line_framer.hpp"
#include "protocol/messages.hpp"
#include "runtime/error.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"
#include "service/proxy_intake.hpp"
#include "service/read_limit.hpp"
#include "service/session.hpp"
#include "service/session_ending.hpp"
#include "service/session_log.hpp"

namespace ringline::service {

namespace {

using clock = std::chrono::steady_clock;

// How long a closing session keeps reading (and discarding) after its FIN, so the acks and
// the error line it sent are not destroyed by a reset for unread input.
constexpr auto k_linger = std::chrono::seconds(2);

// The lines framed from one receive, from the framer to sink::append(), which copies them. No
// other coroutine runs in between, so every session of a thread frames into this one list, and
// a session that starts again for each batch of lines does not grow a list of its own each time.
thread_local std::vector<std::string_view> t_framed_lines;

// A burst of pipelined lines grows that list; beyond this it is freed after the chunk, so a
// thread keeps no trace of the burst.
constexpr std::size_t k_kept_line_slots = 1024;

}  // namespace

runtime::task<void> server::serve(
    std::unique_ptr<session> owned,
    std::optional<runtime::result<runtime::received_buffer>> resumed) {
  session& state = *owned;
  const runtime::io_options io{.timeout = {}, .cancel = &state.io_cancel()};
  const runtime::io_options ack_io{.timeout = m_config.idle_timeout, .cancel = &state.io_cancel()};
  ending why = ending::eof;
  // Whether the connect line was logged, by this activation or an earlier one: a connection
  // refused for its PROXY header gets one line of its own instead of a connect/disconnect pair.
  bool announced = resumed.has_value();
  // Whatever goes wrong inside one session (out of memory while framing or copying lines to
  // the sink) ends that session only; the locals of this block, its buffers, die with it.
  try {
    bool greeted = resumed.has_value();
    bool admitted = true;
    std::vector<char> carry;  // line data that arrived in the same receive as the PROXY header
    if (!greeted && m_config.proxy_protocol) {
      // Before the greeting: a client must not be told "connect" by a server that then refuses
      // it, and until the header is read nobody knows whom the connection is for.
      auto intake =
          co_await read_proxy_header(state.fd(), &state.read_cancel(), m_config.proxy_header_time);
      if (!intake.refusal.empty()) {
        why = ending::bad_proxy_header;
        admitted = false;
        log_proxy_refusal(state, intake.refusal);
      } else if (intake.error) {
        why = runtime::is_cancelled(intake.error) ? ending::shutdown : ending::reset;
        admitted = false;
      } else {
        if (!intake.header.local && m_config.log_connections) {
          state.peer_text = intake.header.source.to_string();
        }
        carry = std::move(intake.rest);
        // --max-connections-per-ip counts the client the header names; a health check's
        // header names nobody, and then the connection's own peer is the client.
        if (m_config.max_connections_per_ip > 0) {
          const auto client = intake.header.local
                                  ? runtime::peer_address(state.fd()).value_or(runtime::address())
                                  : intake.header.source;
          if (!take_client_slot(state, client)) {
            why = ending::over_client_limit;
            admitted = false;
            note_refusal(client, refusal_limit::per_ip);
            const auto refusal = protocol::make_line(protocol::server_full_text);
            (void)co_await runtime::send_all(state.fd(), refusal, io);
          }
        }
      }
    }
    if (!greeted && admitted && m_sink.failure()) {
      // Its lines could not be acknowledged: say so instead of greeting.
      why = ending::sink_unavailable;
    } else if (!greeted && admitted) {
      announced = true;
      if (m_config.log_connections) {
        log_connect(state);
      }
      (void)runtime::set_no_delay(state.fd());
      if (auto sent = co_await runtime::send_all(state.fd(), m_greeting_line, io); !sent) {
        why = ending::reset;
      } else {
        greeted = true;
      }
    }
    if (greeted) {
      runtime::buffer_ring* shared_buffers = receive_buffers();
      std::vector<char> own_buffer;  // only without shared buffers, or when they ran dry
      protocol::line_framer framer(m_config.max_line_bytes);
      std::optional<clock::time_point> line_start;  // when the unfinished line began
      for (bool reading = true; reading;) {
        // The clock only matters to an unfinished line; between whole batches it is not read.
        const auto limit =
            next_read_limit(m_config, line_start, line_start ? clock::now() : clock::time_point());
        if (limit.on_expiry == ending::line_timeout &&
            limit.wait <= std::chrono::nanoseconds::zero()) {
          why = limit.on_expiry;
          break;
        }
        const runtime::io_options read_options{.timeout = limit.wait,
                                               .cancel = &state.read_cancel()};
        auto pooled = std::exchange(resumed, std::nullopt);
        if (!pooled && carry.empty() && shared_buffers != nullptr) {
          if (!line_start && !state.read_cancel().requested()) {
            // Nothing in progress: wait without a coroutine. This frame ends here; the
            // session lives on in its parked receive, whose completion starts another.
            state.parked().start(state.fd(), *shared_buffers, read_options, &session::on_parked,
                                 &state);
            (void)owned.release();
            co_return;
          }
          pooled.emplace(co_await runtime::recv_pooled(state.fd(), *shared_buffers, read_options));
        }
        runtime::received_buffer lease;
        std::span<const char> chunk;
        std::error_code read_error;
        bool received = false;
        if (!carry.empty()) {
          chunk = carry;  // framed before anything else is received
          received = true;
        } else if (pooled) {
          if (*pooled) {
            lease = std::move(**pooled);
            chunk = lease.data();
            received = true;
          } else if (pooled->error() != std::errc::no_buffer_space) {
            read_error = pooled->error();
          }
          pooled.reset();
        }
        if (!received && !read_error) {
          if (own_buffer.empty()) {
            own_buffer.resize(m_config.recv_buffer_bytes);
          }
          auto got = co_await runtime::recv_some(state.fd(), own_buffer, read_options);
          if (got) {
            chunk = {own_buffer.data(), *got};
          } else {
            read_error = got.error();
          }
        }
        if (read_error) {
          why = runtime::is_timeout(read_error)     ? limit.on_expiry
                : runtime::is_cancelled(read_error) ? ending::shutdown
                                                    : ending::reset;
          break;
        }
        if (chunk.empty()) {
          break;  // EOF: everything complete is acked; a trailing partial line is no message
        }
        m_stats.bytes += chunk.size();
        framer.feed(chunk);
        auto& lines = t_framed_lines;
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
        const std::size_t framed = lines.size();
        m_stats.lines_received += framed;
        if (!framer.has_partial_line()) {
          line_start.reset();
        } else if (!line_start || framed > 0) {
          line_start = clock::now();  // the unfinished line began in this chunk
        }
        if (framed > 0) {
          // The sink copies the lines at once, so the shared buffer goes back to the kernel
          // before this session waits for anything.
          auto written = m_sink.append(lines);
          if (lines.capacity() > k_kept_line_slots) {
            std::vector<std::string_view>().swap(lines);
          }
          lease.reset();
          if (auto outcome = co_await written; !outcome) {
            why = ending::sink_failed;
            break;
          }
          // A client that stops reading its acks stalls this send; after --idle-timeout
          // without progress it is dropped, or a few such clients would hold every slot.
          // k acks go out as slices of the prebuilt batch, one send per batch-full; inline
          // rather than a helper coroutine, which would cost a frame allocation per receive.
          std::error_code send_error;
          for (std::size_t unsent = framed; unsent > 0 && !send_error;) {
            const auto slice = m_acks.slice(unsent);
            if (auto acked = co_await runtime::send_all(state.fd(), slice, ack_io); !acked) {
              send_error = acked.error();
            }
            unsent -= m_acks.acks_in(slice.size());
          }
          if (send_error) {
            why = runtime::is_timeout(send_error) ? ending::stalled : ending::reset;
            break;
          }
          state.lines_acked += framed;
          m_stats.lines += framed;
        }
        // What the chunk needed is done with; keep only the unfinished line while waiting.
        lease.reset();
        std::vector<char>().swap(carry);
        framer.release_memory();
        if (shared_buffers != nullptr) {
          std::vector<char>().swap(own_buffer);
        }
      }
    }
  } catch (...) {
    why = ending::internal_error;
    log_internal_error(std::current_exception());
  }
  if (state.aborted() &&
      (why == ending::reset || why == ending::shutdown || why == ending::sink_failed)) {
    // The shutdown grace ran out: whatever failed, failed because its I/O was cancelled.
    why = ending::forced;
  }

  if (const auto reason = wire_error(why); reason && !state.aborted()) {
    // With the stall limit too: a client that does not read must not hold its slot here.
    (void)co_await runtime::send_all(state.fd(), protocol::error_line(*reason), ack_io);
  }
  count(m_stats, why);
  if (m_config.log_connections && announced) {
    log_disconnect(state, why);
  }
  if (lingers(why) && !state.aborted() && runtime::shutdown_write(state.fd())) {
    // As nginx's lingering_close: read and discard until the peer closes or the deadline
    // passes, since closing with unread input would send a reset and the peer's kernel would
    // drop the acks and the error line still queued for it.
    const std::unique_ptr<char[]> discard(new (std::nothrow) char[4096]);
    const auto deadline = clock::now() + k_linger;
    for (auto left = deadline - clock::now(); discard != nullptr && left > clock::duration::zero();
         left = deadline - clock::now()) {
      auto got = co_await runtime::recv_some(state.fd(), {discard.get(), 4096},
                                             {.timeout = left, .cancel = &state.io_cancel()});
      if (!got || *got == 0) {
        break;
      }
    }
  }
  (void)co_await runtime::close(state.take_fd());
}

}  // namespace ringline::service
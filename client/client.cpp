#include "client/client.hpp"

#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/errc.hpp"
#include "runtime/error.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/resolve.hpp"
#include "runtime/socket.hpp"

namespace ringline::client {

namespace {

constexpr std::size_t k_send_batch_bytes = std::size_t{64} * 1024;

// The error a server's "error: <reason>" line stands for: the protocol::errc whose message is
// the reason (those are the words the server sends), or unexpected_reply for one unknown here.
std::error_code server_error(std::string_view reason) noexcept {
  for (const auto known : {protocol::errc::line_too_long, protocol::errc::idle_timeout,
                           protocol::errc::line_timeout, protocol::errc::sink_failed,
                           protocol::errc::internal_error, protocol::errc::sink_unavailable}) {
    if (make_error_code(known).message() == reason) {
      return known;
    }
  }
  return protocol::errc::unexpected_reply;
}

// What the sender and the reader of one conversation share; lives in converse()'s frame.
struct shared_state {
  int fd = -1;
  std::uint64_t handed = 0;  // lines taken from the source; each is owed an ack
  std::uint64_t sent = 0;    // lines whose send completed
  bool sender_done = false;
  std::error_code sender_error;
  runtime::cancellation stop_sender;
  runtime::event sender_finished;
  // Set while the reader waits without a limit because no reply is owed. The sender requests
  // it when that changes (lines handed over, or no more to come), so the reader wakes and
  // waits again, now with the reply limit: a receive's timeout is fixed when it is submitted.
  runtime::cancellation* wake_reader = nullptr;
};

void wake_reader(shared_state& state) noexcept {
  if (state.wake_reader != nullptr) {
    std::exchange(state.wake_reader, nullptr)->request();
  }
}

// Sends every line, then half-closes: the server acks what it has and closes in turn, so the
// reader sees the end of the stream even if the last ack raced with the last send.
runtime::task<void> send_everything(line_source& lines, shared_state& state) {
  std::string batch;
  const runtime::io_options io{.timeout = {}, .cancel = &state.stop_sender};
  for (;;) {
    batch.clear();
    auto count = co_await lines.read_lines(batch, k_send_batch_bytes, &state.stop_sender);
    if (!count) {
      state.sender_error = count.error();
      break;
    }
    if (*count == 0) {
      (void)runtime::shutdown_write(state.fd);
      break;
    }
    // Owed from now: the reply limit runs while the send is under way, so a server that
    // neither reads nor acks (the send blocks on a full window) is caught as well.
    state.handed += *count;
    wake_reader(state);
    if (auto sent = co_await runtime::send_all(state.fd, batch, io); !sent) {
      state.sender_error = sent.error();
      break;
    }
    state.sent += *count;
  }
  state.sender_done = true;
  wake_reader(state);
  state.sender_finished.set();
}

// Opens a socket and connects it to `where` within `timeout` (zero: no limit).
runtime::task<runtime::result<runtime::unique_fd>> connect_to(runtime::address where,
                                                              std::chrono::milliseconds timeout) {
  auto socket = runtime::open_tcp_socket(where.family());
  if (!socket) {
    co_return socket.error();
  }
  const runtime::io_options io{.timeout = timeout, .cancel = nullptr};
  if (auto connected = co_await runtime::connect(socket->get(), where, io); !connected) {
    co_return connected.error();
  }
  (void)runtime::set_no_delay(socket->get());
  co_return std::move(*socket);
}

}  // namespace

runtime::task<runtime::result<conversation_result>> converse(client_options options,
                                                             line_source& lines,
                                                             reply_handler on_reply,
                                                             conversation_result* progress) {
  conversation_result local_progress;
  conversation_result& done = progress != nullptr ? *progress : local_progress;
  // Resolved once: `localhost` may name ::1 and 127.0.0.1, and the server may listen on
  // either, so each address is tried in order; the last error tells why none answered.
  auto candidates = runtime::resolve(options.host, options.port);
  if (!candidates) {
    co_return candidates.error();
  }
  std::optional<runtime::unique_fd> socket;
  std::error_code connect_error;
  for (const auto& where : *candidates) {
    auto attempt = co_await connect_to(where, options.timeout);
    if (attempt) {
      socket = std::move(*attempt);
      break;
    }
    connect_error = attempt.error();
  }
  if (!socket) {
    co_return connect_error;
  }
  done.connected = true;

  shared_state state;
  state.fd = socket->get();
  bool sender_started = false;
  protocol::reply_parser parser(options.greeting, options.ack);
  std::vector<char> buffer(std::size_t{64} * 1024);
  std::error_code failure;
  // Whatever ends the reading, an exception from on_reply included, the sender is stopped
  // and awaited first: it refers to `state`, which lives in this frame.
  std::exception_ptr thrown;
  try {
    while (!failure && !(state.sender_done && done.acked >= state.handed)) {
      // The reply limit applies only while a reply is owed: an interactive --stdin user who
      // pauses is not a dead server. Otherwise the sender may wake this wait (wake_reader).
      const bool reply_owed = !done.greeted || done.acked < state.handed;
      runtime::cancellation wake;
      runtime::io_options read_io{.timeout = options.timeout, .cancel = nullptr};
      if (!reply_owed) {
        read_io = {.timeout = std::chrono::milliseconds::zero(), .cancel = &wake};
        state.wake_reader = &wake;
      }
      auto got = co_await runtime::recv_some(socket->get(), buffer, read_io);
      state.wake_reader = nullptr;
      if (!got && wake.requested() && runtime::is_cancelled(got.error())) {
        continue;  // woken by the sender: wait again, with the limit if a reply is owed now
      }
      if (!got) {
        failure = got.error();
        break;
      }
      if (*got == 0) {
        // An orderly close (a FIN, as the server sends at its shutdown), not a reset: said so.
        if (!state.sender_done || done.acked < state.handed) {
          failure = protocol::errc::server_closed;
        }
        break;
      }
      parser.feed({buffer.data(), *got});
      for (auto reply = parser.next(); reply.kind != protocol::reply_kind::need_more && !failure;
           reply = parser.next()) {
        on_reply(reply);
        switch (reply.kind) {
          case protocol::reply_kind::greeting:
            if (!done.greeted) {
              done.greeted = true;
              sender_started = true;
              runtime::event_loop::current().spawn(send_everything(lines, state));
              break;
            }
            failure = protocol::errc::unexpected_reply;
            break;
          case protocol::reply_kind::ack:
            // An ack may be read before the send it answers has reported completion, so acked
            // can run ahead of sent for a moment, though never ahead of handed.
            if (!done.greeted) {
              failure = protocol::errc::unexpected_reply;
              break;
            }
            ++done.acked;
            break;
          case protocol::reply_kind::server_full:
            failure = protocol::errc::server_full;
            break;
          case protocol::reply_kind::too_long:
            failure = protocol::errc::reply_too_long;
            break;
          case protocol::reply_kind::error:
            done.server_line = std::string(protocol::error_prefix).append(reply.text);
            failure = server_error(reply.text);
            break;
          case protocol::reply_kind::other:
            done.server_line = reply.text;
            failure = protocol::errc::unexpected_reply;
            break;
          case protocol::reply_kind::need_more:
            failure = protocol::errc::unexpected_reply;
            break;
        }
      }
      on_reply(protocol::reply{protocol::reply_kind::need_more, {}});  // the batch is handled
      done.sent = state.sent;
      done.handed = state.handed;
    }
  } catch (...) {
    thrown = std::current_exception();
  }
  state.wake_reader = nullptr;
  if (sender_started) {
    // The sender refers to this frame; it must end before the frame does.
    state.stop_sender.request();
    co_await state.sender_finished;
  }
  if (thrown) {
    std::rethrow_exception(thrown);
  }
  done.sent = state.sent;
  done.handed = state.handed;
  if (!failure && state.sender_error) {
    failure = state.sender_error;
  }
  if (!failure && done.acked > done.sent) {
    failure = protocol::errc::unexpected_reply;  // acks for lines never sent
  }
  (void)co_await runtime::close(std::move(*socket));
  if (failure) {
    co_return failure;
  }
  co_return done;
}

}  // namespace ringline::client

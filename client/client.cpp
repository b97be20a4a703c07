#include "client/client.hpp"

#include <exception>
#include <vector>

#include "protocol/errc.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/socket.hpp"

namespace ringline::client {

namespace {

constexpr std::size_t k_send_batch_bytes = std::size_t{64} * 1024;

// What the sender and the reader of one conversation share; lives in converse()'s frame.
struct shared_state {
  int fd = -1;
  std::uint64_t sent = 0;
  bool sender_done = false;
  std::error_code sender_error;
  runtime::cancellation stop_sender;
  runtime::event sender_finished;
};

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
    if (auto sent = co_await runtime::send_all(state.fd, batch, io); !sent) {
      state.sender_error = sent.error();
      break;
    }
    state.sent += *count;
  }
  state.sender_done = true;
  state.sender_finished.set();
}

}  // namespace

runtime::task<runtime::result<conversation_result>> converse(client_options options,
                                                             line_source& lines,
                                                             reply_handler on_reply,
                                                             conversation_result* progress) {
  conversation_result local_progress;
  conversation_result& done = progress != nullptr ? *progress : local_progress;
  auto where = runtime::address::parse(options.host, options.port);
  if (!where) {
    co_return where.error();
  }
  auto socket = runtime::open_tcp_socket(where->family());
  if (!socket) {
    co_return socket.error();
  }
  const runtime::io_options io{.timeout = options.timeout, .cancel = nullptr};
  if (auto connected = co_await runtime::connect(socket->get(), *where, io); !connected) {
    co_return connected.error();
  }
  (void)runtime::set_no_delay(socket->get());

  shared_state state;
  state.fd = socket->get();
  bool sender_started = false;
  protocol::reply_parser parser(options.greeting, options.ack);
  std::vector<char> buffer(std::size_t{64} * 1024);
  std::error_code failure;
  bool greeted = false;
  // Whatever ends the reading, an exception from on_reply included, the sender is stopped
  // and awaited first: it refers to `state`, which lives in this frame.
  std::exception_ptr thrown;
  try {
    while (!failure && !(state.sender_done && done.acked >= state.sent)) {
      // The reply limit applies only while a reply is owed: an interactive --stdin user who
      // pauses is not a dead server.
      const bool reply_owed = !greeted || done.acked < state.sent;
      const runtime::io_options read_io{
          .timeout = reply_owed ? options.timeout : std::chrono::milliseconds::zero(),
          .cancel = nullptr};
      auto got = co_await runtime::recv_some(socket->get(), buffer, read_io);
      if (!got) {
        failure = got.error();
        break;
      }
      if (*got == 0) {
        if (!state.sender_done || done.acked < state.sent) {
          failure = std::make_error_code(std::errc::connection_reset);
        }
        break;
      }
      parser.feed({buffer.data(), *got});
      for (auto reply = parser.next(); reply.kind != protocol::reply_kind::need_more && !failure;
           reply = parser.next()) {
        on_reply(reply);
        switch (reply.kind) {
          case protocol::reply_kind::greeting:
            if (!greeted) {
              greeted = true;
              sender_started = true;
              runtime::event_loop::current().spawn(send_everything(lines, state));
              break;
            }
            failure = protocol::errc::unexpected_reply;
            break;
          case protocol::reply_kind::ack:
            // An ack may be read before the send it answers has reported completion, so acked
            // can run ahead of sent for a moment; only the final count is checked.
            if (!greeted) {
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
          case protocol::reply_kind::other:
          case protocol::reply_kind::need_more:
            failure = protocol::errc::unexpected_reply;
            break;
        }
      }
      on_reply(protocol::reply{protocol::reply_kind::need_more, {}});  // the batch is handled
      done.sent = state.sent;
    }
  } catch (...) {
    thrown = std::current_exception();
  }
  if (sender_started) {
    // The sender refers to this frame; it must end before the frame does.
    state.stop_sender.request();
    co_await state.sender_finished;
  }
  if (thrown) {
    std::rethrow_exception(thrown);
  }
  done.sent = state.sent;
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

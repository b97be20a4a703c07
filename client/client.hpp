#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "protocol/messages.hpp"
#include "protocol/reply_parser.hpp"
#include "runtime/cancellation.hpp"
#include "runtime/result.hpp"
#include "runtime/task.hpp"

namespace ringline::client {

/// Where to connect and what the server's lines look like.
struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 10008;
  std::string greeting{protocol::default_greeting};
  std::string ack{protocol::default_ack};
  /// Longest wait for the connection and for each reply (zero: no limit).
  std::chrono::milliseconds timeout{30'000};
};

/// Supplies the lines a conversation sends.
class line_source {
 public:
  virtual ~line_source() = default;
  /// Appends the next lines to `out`, each ended by '\n', about `limit` bytes at most
  /// (a longer single line is appended whole); returns how many, 0 at the end.
  virtual runtime::task<runtime::result<std::size_t>> read_lines(std::string& out,
                                                                 std::size_t limit,
                                                                 runtime::cancellation* cancel) = 0;
};

/// Called with every line the server sends, in order, as reply_parser classified it, and with
/// reply_kind::need_more after each batch of lines received together: the point to flush
/// output, once per receive rather than once per line.
using reply_handler = std::function<void(const protocol::reply& reply)>;

/// What a conversation achieved.
struct conversation_result {
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
};

/// Holds one conversation on the current thread's event loop: connects, reads the greeting,
/// sends every line from `lines` (pipelined: sending does not wait for acks), reads one
/// ack per line, then closes. Every server line goes to `on_reply`.
///
/// Errors: the connect error (ECONNREFUSED, ...); protocol::errc::server_full when the
/// server answered "not connect"; protocol::errc::unexpected_reply for an error line or any
/// other unexpected line; std::errc::connection_reset / timed_out when the connection was
/// lost or went quiet before every line was acknowledged (`progress` still counts what was).
runtime::task<runtime::result<conversation_result>> converse(client_options options,
                                                             line_source& lines,
                                                             reply_handler on_reply,
                                                             conversation_result* progress);

}  // namespace ringline::client

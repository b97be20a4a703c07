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
  /// An IP literal or a name; a name is resolved once, before connecting (see converse).
  std::string host = "127.0.0.1";
  std::uint16_t port = 10008;
  std::string greeting{protocol::default_greeting};
  std::string ack{protocol::default_ack};
  /// Longest wait for each connection attempt, and longest silence while a reply is owed:
  /// the greeting, or an ack for a line handed to the connection (zero: no limit). While
  /// nothing is owed (every line so far acked, the source has no more yet) there is no limit,
  /// so an interactive user may pause.
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
  /// Lines whose send completed.
  std::uint64_t sent = 0;
  /// Lines taken from the source and handed to the connection: `sent` plus those of a send
  /// that was still under way when the conversation ended. Each of them is owed an ack.
  std::uint64_t handed = 0;
  std::uint64_t acked = 0;
  /// True once a connection was made, and once the greeting was read.
  bool connected = false;
  bool greeted = false;
  /// The line that ended the conversation, without its '\n', when the server sent an error
  /// line ("error: sink unavailable") or a line this client did not expect; empty otherwise.
  std::string server_line;
};

/// Holds one conversation on the current thread's event loop: connects, reads the greeting,
/// sends every line from `lines` (pipelined: sending does not wait for acks), reads one
/// ack per line, then closes. Every server line goes to `on_reply`.
///
/// The host is resolved once (runtime::resolve; a name blocks this thread on getaddrinfo,
/// a literal does not) and each address is tried in turn until one connects.
///
/// Errors: a runtime::resolver_category() code when the name does not resolve; the connect
/// error of the last address tried (ECONNREFUSED, timed_out, ...); protocol::errc::server_full
/// when the server answered "not connect"; for an error line, the protocol::errc its reason
/// names (sink_unavailable, line_too_long, ...), or protocol::errc::unexpected_reply for a
/// reason this client does not know; protocol::errc::unexpected_reply for any other
/// unexpected line; protocol::errc::server_closed when the server closed the connection
/// (an orderly end of the stream, as at its shutdown) before every line was sent and
/// acknowledged; the receive's or the send's error (ECONNRESET, ...) when the connection was
/// lost; std::errc::timed_out when no greeting, or no ack for lines owed one, came within
/// options.timeout. `progress` tells these apart (connected, greeted, server_line) and still
/// counts what was sent and acknowledged.
runtime::task<runtime::result<conversation_result>> converse(client_options options,
                                                             line_source& lines,
                                                             reply_handler on_reply,
                                                             conversation_result* progress);

}  // namespace ringline::client

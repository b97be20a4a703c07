#pragma once

#include <system_error>

namespace ringline::protocol {

/// Enumerates the protocol-level failures of a session, in the "ringline.protocol" category.
///
/// The messages of line_too_long, idle_timeout, line_timeout, sink_failed, internal_error and
/// sink_unavailable are
/// the reasons the server writes on the wire after "error: " (see error_line in
/// protocol/messages.hpp), so they are part of the protocol and must not change.
enum class errc {
  line_too_long = 1,  ///< "line too long": a line exceeded the server's --max-line-bytes.
  idle_timeout,       ///< "idle timeout": the peer sent nothing for --idle-timeout.
  server_full,        ///< "server full": the server refused the connection ("not connect").
  unexpected_reply,   ///< "unexpected reply": the client received a line it did not expect.
  reply_too_long,     ///< "reply too long": a server line exceeded the client's limit.
  line_timeout,       ///< "line timeout": a line stayed unfinished for --line-timeout.
  sink_failed,        ///< "sink failed": the session's lines could not be written in time.
  internal_error,     ///< "internal error": the server could not go on with this session.
  sink_unavailable,   ///< "sink unavailable": the sink is failing; new sessions are closed.
  server_closed,      ///< "server closed the connection": a client saw the end of the stream
                      ///< while it still had lines to send or acks to receive.
};

/// Returns the category of protocol::errc; a single object, safe to use from any thread.
const std::error_category& protocol_category() noexcept;

/// Returns `error` as a std::error_code in protocol_category(); found by ADL.
std::error_code make_error_code(errc error) noexcept;

}  // namespace ringline::protocol

/// Lets protocol::errc convert implicitly to std::error_code and compare with it.
template <>
struct std::is_error_code_enum<ringline::protocol::errc> : std::true_type {};

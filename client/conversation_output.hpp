#pragma once

#include <string>
#include <system_error>

#include "client/client.hpp"
#include "protocol/reply_parser.hpp"

// What ringline-client prints about a conversation, shared by its --message, --stdin and
// --file modes.

namespace ringline::client {

/// Exit statuses of ringline-client.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_server_full = 3;

/// Echoes a server line on stdout as it came, so the output reads like the PHP client's
/// (need_more flushes stdout); --quiet (`quiet`) keeps the expected lines (greeting, acks,
/// refusal) off stdout. Error and unexpected lines are not echoed: they end the conversation,
/// and describe_failure() names them.
void print_reply(const protocol::reply& reply, const client_options& options, bool quiet);

/// Returns what went wrong in the words of the conversation: what did not arrive, and when,
/// for example `cannot connect to 127.0.0.1 port 10008: connection refused`, `server error:
/// sink failed (0 of 1 lines acknowledged)` or `server closed the connection (2 of 5 lines
/// acknowledged)`.
[[nodiscard]] std::string describe_failure(std::error_code error, const client_options& options,
                                           const conversation_result& progress);

}  // namespace ringline::client

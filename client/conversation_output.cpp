#include "client/conversation_output.hpp"

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "protocol/errc.hpp"
#include "protocol/messages.hpp"
#include "runtime/duration.hpp"
#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "runtime/resolve.hpp"

namespace ringline::client {

void print_reply(const protocol::reply& reply, const client_options& options, bool quiet) {
  if (quiet &&
      (reply.kind == protocol::reply_kind::greeting || reply.kind == protocol::reply_kind::ack ||
       reply.kind == protocol::reply_kind::server_full)) {
    return;
  }
  switch (reply.kind) {
    case protocol::reply_kind::greeting:
      fmt::print("{}\n", options.greeting);
      break;
    case protocol::reply_kind::ack:
      fmt::print("{}\n", options.ack);
      break;
    case protocol::reply_kind::server_full:
      fmt::print("{}\n", protocol::server_full_text);
      break;
    case protocol::reply_kind::need_more:
      (void)std::fflush(stdout);  // each batch shows at once, even through a pipe
      break;
    default:
      // An error or unexpected line ends the conversation, whose failure names it (see
      // describe_failure): said once, with what became of the lines.
      break;
  }
}

std::string describe_failure(std::error_code error, const client_options& options,
                             const conversation_result& progress) {
  const auto limit = runtime::format_duration(options.timeout);
  if (error.category() == runtime::resolver_category()) {
    return fmt::format("cannot resolve '{}': {}", options.host, error.message());
  }
  if (!progress.connected) {
    const auto reason = error == std::errc::connection_refused ? "connection refused"
                        : runtime::is_timeout(error) ? fmt::format("no connection within {}", limit)
                                                     : error.message();
    return fmt::format("cannot connect to {} port {}: {}", options.host, options.port, reason);
  }
  if (runtime::is_timeout(error) && !progress.greeted) {
    return fmt::format("no greeting within {}", limit);
  }
  if (runtime::is_timeout(error)) {
    return fmt::format("{} of {} lines unacknowledged after {} without a reply",
                       progress.handed - progress.acked, progress.handed, limit);
  }
  // How far the conversation got; before a line was handed over there is nothing to count.
  const auto counts = progress.handed > 0 ? fmt::format(" ({} of {} lines acknowledged)",
                                                        progress.acked, progress.handed)
                                          : std::string();
  if (!progress.server_line.empty()) {
    const std::string_view line = progress.server_line;
    if (line.starts_with(protocol::error_prefix)) {
      return fmt::format("server error: {}{}", line.substr(protocol::error_prefix.size()), counts);
    }
    return fmt::format("unexpected line from server: '{}'{}", line, counts);
  }
  if (error == protocol::errc::server_closed && !progress.greeted) {
    return "server closed the connection before its greeting";
  }
  return fmt::format("{}{}", error.message(), counts);
}

}  // namespace ringline::client

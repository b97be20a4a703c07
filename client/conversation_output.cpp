#include "client/conversation_output.hpp"

#include <cstdio>

#include <fmt/format.h>

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
    case protocol::reply_kind::error:
      runtime::log_line(fmt::format("ringline-client: server error: {}", reply.text));
      break;
    default:
      runtime::log_line(
          fmt::format("ringline-client: unexpected line from server: {}", reply.text));
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
  return fmt::format("{} ({} of {} lines acknowledged)", error.message(), progress.acked,
                     progress.sent);
}

}  // namespace ringline::client

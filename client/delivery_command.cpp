#include "client/delivery_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "client/conversation_output.hpp"
#include "client/progress_display.hpp"
#include "protocol/errc.hpp"
#include "runtime/duration.hpp"
#include "runtime/log.hpp"

namespace ringline::client {

namespace {

// What became of the input, in the summary's terms: of `total` lines (the file's, or those
// read so far from standard input), how many lack an ack and how many were never even sent.
std::string describe_unacknowledged(const delivery_result& progress,
                                    std::optional<std::uint64_t> total_lines) {
  const auto total = total_lines.value_or(progress.lines);
  const auto unacked = total > progress.acked ? total - progress.acked : 0;
  const auto never_sent = total > progress.sent ? total - progress.sent : 0;
  // Standard input has no total until its end: say how much of it was read at all.
  const auto unread = total_lines || progress.input_done ? "" : ", the rest of the input unread";
  if (unacked == 0) {
    return fmt::format("every line read so far acknowledged ({}){}", total, unread);
  }
  const auto unsent =
      never_sent > 0 ? fmt::format(", {} of them never sent", never_sent) : std::string();
  return fmt::format("{} of {} lines unacknowledged{}{}", unacked, total, unsent, unread);
}

}  // namespace

runtime::task<int> run_delivery(delivery_options options, std::unique_ptr<line_source> lines,
                                delivery_report report) {
  // A bar only where a person watches stderr, and not over acks echoed to the same terminal
  // or lines being typed into it.
  const bool watched = ::isatty(STDERR_FILENO) == 1 &&
                       (report.quiet || ::isatty(STDOUT_FILENO) == 0) &&
                       (report.total.has_value() || ::isatty(STDIN_FILENO) == 0);
  progress_display display(report.total, watched);
  delivery_result progress;
  auto outcome = co_await deliver(
      options, *lines,
      [&options, &report](const protocol::reply& reply) {
        print_reply(reply, options.connection, report.quiet);
      },
      [&progress, &display, &options](const delivery_result& now) {
        progress = now;
        if (now.retry_in.count() > 0) {
          // Each failure is worth a line: an operator sees the outage as it happens.
          display.finish();
          const auto resend =
              now.to_resend > 0 ? fmt::format("{} unacknowledged lines to resend, ", now.to_resend)
                                : "";
          runtime::log_line(
              fmt::format("ringline-client: {}; {}reconnecting in {}",
                          describe_failure(now.last_error, options.connection, now.last_attempt),
                          resend, runtime::format_duration(now.retry_in)));
        }
        display.update(now);
      });
  (void)std::fflush(stdout);
  display.finish();
  if (report.summary) {
    runtime::log_line(fmt::format("ringline-client: {}", format_summary(progress, report.total)));
  }
  if (outcome) {
    co_return k_exit_ok;
  }
  const auto error = outcome.error();
  const auto reason = error == protocol::errc::server_full
                          ? std::string("server is full (it answered 'not connect')")
                          : describe_failure(error, options.connection, progress.last_attempt);
  const auto retried =
      progress.reconnects > 0 ? fmt::format(" after {} reconnects", progress.reconnects) : "";
  runtime::log_line(fmt::format("ringline-client: {}{}; {}", reason, retried,
                                describe_unacknowledged(progress, report.total)));
  if (error == protocol::errc::server_full && options.retry_for.count() == 0) {
    co_return k_exit_server_full;
  }
  co_return k_exit_failed;
}

}  // namespace ringline::client

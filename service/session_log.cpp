#include "service/session_log.hpp"

#include <new>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "runtime/log.hpp"
#include "runtime/socket.hpp"

namespace ringline::service {

void log_connect(const session& state) {
  runtime::log(runtime::log_level::info, fmt::format("connect {}", state.peer_text),
               {{"event", "connect"}, {"peer", state.peer_text}});
}

void log_disconnect(const session& state, ending why) {
  try {
    const auto lines = std::to_string(state.lines_acked);
    runtime::log(runtime::log_level::info,
                 fmt::format("disconnect {} lines={} ({})", state.peer_text, lines, describe(why)),
                 {{"event", "disconnect"},
                  {"peer", state.peer_text},
                  {"lines", lines},
                  {"reason", describe(why)}});
  } catch (const std::bad_alloc&) {
    runtime::log_line("disconnect (no memory to describe it)");
  }
}

void log_proxy_refusal(const session& state, std::string_view reason) noexcept {
  try {
    std::string peer = state.peer_text;
    if (peer.empty()) {
      auto address = runtime::peer_address(state.fd());
      peer = address ? address->to_string() : "unknown peer";
    }
    runtime::log(runtime::log_level::warn,
                 fmt::format("proxy header from {}: {}; closed without a greeting", peer, reason),
                 {{"event", "proxy_error"}, {"peer", peer}, {"reason", reason}});
  } catch (const std::bad_alloc&) {
    runtime::log(runtime::log_level::warn, "proxy header refused (no memory to describe it)");
  }
}

void log_internal_error(std::exception_ptr error) noexcept {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& failure) {
    try {
      runtime::log(runtime::log_level::error,
                   fmt::format("session: internal error: {}", failure.what()));
    } catch (...) {
      runtime::log(runtime::log_level::error, "session: internal error (no memory to describe it)");
    }
  } catch (...) {
    runtime::log(runtime::log_level::error, "session: internal error: unknown exception");
  }
}

}  // namespace ringline::service

#include "service/session_ending.hpp"

#include <array>
#include <cstdint>

namespace ringline::service {

namespace {

// Everything an ending decides, in one row per ending, in the enum's order.
struct ending_traits {
  std::string_view text;               // the reason on the `disconnect` log line
  std::optional<protocol::errc> wire;  // the error line sent before closing, if any
  stat_counter stats::*counter;        // the counter it adds to, if any
  // After EOF the client sends nothing more; after a reset or a stall there is nobody (or
  // nobody reading) to protect; a forced close has no time left: none of those lingers.
  bool lingers;
};

constexpr std::array<ending_traits, 13> k_endings{{
    {"client closed", std::nullopt, nullptr, false},
    {"line too long", protocol::errc::line_too_long, &stats::line_too_long, true},
    {"idle timeout", protocol::errc::idle_timeout, &stats::idle_timeouts, true},
    {"line timeout", protocol::errc::line_timeout, &stats::line_timeouts, true},
    {"client stopped reading", std::nullopt, &stats::stalled, false},
    {"server shutdown", std::nullopt, nullptr, true},
    {"closed at the end of the shutdown grace", std::nullopt, &stats::forced_closes, false},
    {"connection error", std::nullopt, &stats::resets, false},
    {"sink failed", protocol::errc::sink_failed, &stats::sink_errors, true},
    {"internal error", protocol::errc::internal_error, &stats::internal_errors, true},
    {"sink unavailable", protocol::errc::sink_unavailable, &stats::sink_errors, true},
    // Nothing was sent, but the client may still be sending (a v2 header too long to read):
    // closing with that unread would answer it with a reset instead of a FIN.
    {"bad PROXY header", std::nullopt, &stats::proxy_errors, true},
    {"refused: --max-connections-per-ip", std::nullopt, nullptr, true},
}};
static_assert(k_endings.size() == static_cast<std::size_t>(ending::over_client_limit) + 1,
              "one row per ending");

const ending_traits& traits(ending why) noexcept {
  return k_endings[static_cast<std::size_t>(why)];
}

}  // namespace

std::string_view describe(ending why) noexcept {
  return traits(why).text;
}

std::optional<protocol::errc> wire_error(ending why) noexcept {
  return traits(why).wire;
}

void count(stats& counters, ending why) noexcept {
  if (const auto counter = traits(why).counter; counter != nullptr) {
    ++(counters.*counter);
  }
}

bool lingers(ending why) noexcept {
  return traits(why).lingers;
}

}  // namespace ringline::service

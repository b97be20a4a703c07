#include "runtime/duration.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace ringline::runtime {

namespace {

// The longest unit name is two characters; anything else after the number is an error.
struct unit {
  std::string_view name;
  std::int64_t milliseconds;
};
constexpr unit k_units[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

}  // namespace

result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // from_chars accepts a leading '-', which a duration must not have.
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return std::errc::invalid_argument;
  }
  std::int64_t count = 0;
  const auto* const end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data(), end, count);
  if (error == std::errc::result_out_of_range) {
    return std::errc::result_out_of_range;
  }
  std::string_view suffix(rest, static_cast<std::size_t>(end - rest));
  if (suffix.starts_with(' ')) {
    suffix.remove_prefix(1);
    if (suffix.empty()) {
      return std::errc::invalid_argument;  // "5 " has a space but no unit
    }
  }
  std::int64_t scale = 1000;  // a bare number is seconds
  if (!suffix.empty()) {
    scale = 0;
    for (const auto& each : k_units) {
      if (suffix == each.name) {
        scale = each.milliseconds;
      }
    }
    if (scale == 0) {
      return std::errc::invalid_argument;
    }
  }
  if (count > std::numeric_limits<std::int64_t>::max() / scale) {
    return std::errc::result_out_of_range;
  }
  return std::chrono::milliseconds(count * scale);
}

std::string format_duration(std::chrono::milliseconds duration, std::string_view separator) {
  const auto count = duration.count();
  const bool seconds = count % 1000 == 0;
  std::string text = std::to_string(seconds ? count / 1000 : count);
  text.append(separator).append(seconds ? "s" : "ms");
  return text;
}

std::string check_duration(std::string_view text, std::chrono::milliseconds max) {
  const auto parsed = parse_duration(text);
  if (parsed && *parsed <= max) {
    return {};
  }
  std::string reason = "'";
  reason.append(text);
  if (!parsed && parsed.error() == std::errc::invalid_argument) {
    reason.append("' is not a duration; use 300, 300s, 5m, 1h or 250ms");
  } else {
    reason.append("' is out of range 0 s..").append(format_duration(max));
  }
  return reason;
}

}  // namespace ringline::runtime

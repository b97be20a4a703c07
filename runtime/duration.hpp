#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "runtime/result.hpp"

// Durations as people write them on a command line. This lives in runtime, the one layer both
// ringline-server and ringline-client may include, rather than in protocol: it is plain text
// parsing with no I/O, but it has nothing to do with the wire, and runtime already owns the
// other shared vocabulary of the command lines (address::parse, address::parse_port).

namespace ringline::runtime {

/// Parses a duration: a whole number, optionally followed by a unit, `ms`, `s`, `m` (minutes)
/// or `h`, with or without a space between: `300`, `300s`, `5m`, `1h`, `250ms`, `2 s`. A bare
/// number is seconds. Returns std::errc::invalid_argument for anything else (signs,
/// fractions, unknown units, empty text) and std::errc::result_out_of_range when the value
/// does not fit in milliseconds.
result<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Returns `duration` as parse_duration reads it and a person reads it best: whole seconds as
/// `2 s`, anything else as `250 ms`; with `separator` "" (for key=value log fields) `2s`.
[[nodiscard]] std::string format_duration(std::chrono::milliseconds duration,
                                          std::string_view separator = " ");

/// Checks a duration option's text for a command line: returns an empty string if `text`
/// parses to at most `max`, otherwise the reason in words, for example
/// `'5x' is not a duration; use 300, 300s, 5m, 1h or 250ms`.
[[nodiscard]] std::string check_duration(std::string_view text, std::chrono::milliseconds max);

}  // namespace ringline::runtime

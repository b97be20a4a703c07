#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "tests/support/test_text.hpp"

namespace ringline::test_support {

/// Returns the counters of ringline-client's delivery summary in `stderr_text`, the line
/// `ringline-client: lines=N acked=N resent=N reconnects=N elapsed=Xs rate=N/s`, as numbers
/// (the last such line; elapsed and rate are left out). Empty if there is none.
inline std::map<std::string, std::uint64_t> parse_delivery_summary(std::string_view stderr_text) {
  std::map<std::string, std::uint64_t> counters;
  for (const auto& line : split_lines(stderr_text)) {
    if (line.find("ringline-client: lines=") == std::string::npos) {
      continue;
    }
    counters.clear();
    std::string_view rest(line);
    rest.remove_prefix(rest.find("lines="));
    while (!rest.empty()) {
      const auto space = rest.find(' ');
      const auto word = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      const auto equals = word.find('=');
      const auto key = std::string(word.substr(0, equals));
      if (equals == std::string_view::npos || key == "elapsed" || key == "rate") {
        continue;
      }
      counters[key] = std::stoull(std::string(word.substr(equals + 1)));
    }
  }
  return counters;
}

}  // namespace ringline::test_support

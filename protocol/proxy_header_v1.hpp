#pragma once

#include <array>
#include <cstdint>
#include <string_view>

// Internals of proxy_header_parser: the addresses a finished header carried, and the parser of
// a complete v1 text line. Public only so that the parser's header can hold them.

namespace ringline::protocol::detail {

/// The addresses of a finished PROXY header, kept raw so that the parser stays small and
/// builds runtime::address values only when asked.
struct raw_proxy_addresses {
  /// AF_INET or AF_INET6, or AF_UNSPEC (0) when the header carries no address.
  int family = 0;
  /// The addresses in network byte order: 4 bytes used for AF_INET, 16 for AF_INET6.
  std::array<std::uint8_t, 16> source{};
  std::array<std::uint8_t, 16> destination{};
  /// The ports, in host byte order.
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
};

/// Parses a complete v1 line, `line` being everything before its "\r\n" (so it begins with
/// "PROXY "), into `out`. Returns an empty view when the line is valid, otherwise the reason
/// (static text). Does not allocate.
[[nodiscard]] std::string_view parse_proxy_v1_line(std::string_view line,
                                                   raw_proxy_addresses& out) noexcept;

}  // namespace ringline::protocol::detail

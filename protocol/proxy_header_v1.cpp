#include "protocol/proxy_header_v1.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace ringline::protocol::detail {
namespace {

// The longest textual IPv6 address, IPv4-mapped form included, without its terminating NUL.
constexpr std::size_t max_address_chars = INET6_ADDRSTRLEN - 1;

bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// inet_pton reads a NUL-terminated string, so a NUL inside the field would cut it short and
// let a prefix pass; only the characters an address can contain are allowed through.
bool parse_address(std::string_view text, int family, std::uint8_t* out) noexcept {
  if (text.size() > max_address_chars) {
    return false;
  }
  for (const char c : text) {
    const bool allowed = family == AF_INET ? (c >= '0' && c <= '9') || c == '.'
                                           : is_hex_digit(c) || c == ':' || c == '.';
    if (!allowed) {
      return false;
    }
  }
  char terminated[max_address_chars + 1] = {};
  std::memcpy(terminated, text.data(), text.size());
  // glibc's inet_pton takes exactly four decimal parts for AF_INET and refuses leading zeros,
  // as the spec asks ("to avoid any possible confusion with octal numbers").
  return ::inet_pton(family, terminated, out) == 1;
}

// Decimal 0..65535 without sign, spaces or leading zeros (the spec forbids them, as for
// addresses).
bool parse_port(std::string_view text, std::uint16_t& out) noexcept {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) {
    return false;
  }
  std::uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) {
    return false;
  }
  out = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

std::string_view parse_proxy_v1_line(std::string_view line, raw_proxy_addresses& out) noexcept {
  constexpr std::string_view prefix = "PROXY ";
  if (!line.starts_with(prefix)) {
    return "PROXY v1: the line does not begin with \"PROXY \"";
  }
  line.remove_prefix(prefix.size());
  // The sender may leave out UNKNOWN's addresses, and the receiver must ignore whatever it
  // put after the keyword, so only the keyword itself is checked.
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    out = raw_proxy_addresses{};
    return {};
  }
  int family = AF_UNSPEC;
  if (line.starts_with("TCP4 ")) {
    family = AF_INET;
  } else if (line.starts_with("TCP6 ")) {
    family = AF_INET6;
  } else {
    return "PROXY v1: unknown protocol (expected TCP4, TCP6 or UNKNOWN)";
  }
  line.remove_prefix(5);

  // Exactly four fields separated by single spaces: a doubled, leading or trailing space
  // shows up as an empty field.
  std::string_view fields[4];
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t space = line.find(' ');
    fields[i] = line.substr(0, space);
    if (fields[i].empty()) {
      return "PROXY v1: empty field (extra space or missing field)";
    }
    if (space == std::string_view::npos) {
      if (i != 3) {
        return "PROXY v1: too few fields (expected source, destination and two ports)";
      }
      line = {};
    } else {
      if (i == 3) {
        return "PROXY v1: too many fields or trailing space";
      }
      line.remove_prefix(space + 1);
    }
  }

  raw_proxy_addresses parsed;
  parsed.family = family;
  if (!parse_address(fields[0], family, parsed.source.data())) {
    return family == AF_INET ? "PROXY v1: bad TCP4 source address"
                             : "PROXY v1: bad TCP6 source address";
  }
  if (!parse_address(fields[1], family, parsed.destination.data())) {
    return family == AF_INET ? "PROXY v1: bad TCP4 destination address"
                             : "PROXY v1: bad TCP6 destination address";
  }
  if (!parse_port(fields[2], parsed.source_port)) {
    return "PROXY v1: bad source port (decimal 0..65535, no leading zero)";
  }
  if (!parse_port(fields[3], parsed.destination_port)) {
    return "PROXY v1: bad destination port (decimal 0..65535, no leading zero)";
  }
  out = parsed;
  return {};
}

}  // namespace ringline::protocol::detail

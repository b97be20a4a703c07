#include "protocol/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace ringline::protocol {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
// v2's fixed part: the signature, version and command, family and protocol, and the length.
constexpr std::size_t v2_fixed_bytes = 16;
constexpr std::uint8_t v2_command_proxy = 0x1;
constexpr std::uint8_t v2_tcp_over_ipv4 = 0x11;
constexpr std::uint8_t v2_tcp_over_ipv6 = 0x21;
// The address blocks of TCP over IPv4 and IPv6: two addresses, then two ports.
constexpr std::size_t v2_ipv4_block = 2 * 4 + 2 * 2;
constexpr std::size_t v2_ipv6_block = 2 * 16 + 2 * 2;

std::uint16_t read_u16(const char* bytes) noexcept {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                    static_cast<unsigned char>(bytes[1]));
}

}  // namespace

proxy_step proxy_header_parser::feed(std::span<const char> chunk) noexcept {
  std::size_t used = 0;
  while (used < chunk.size() && m_state != state::done && m_state != state::invalid) {
    if (m_state == state::v2_body && m_buffered == m_v2_keep) {
      // What follows the addresses (TLVs, or a block of a family we do not read) is only
      // counted, so a large header costs no copying and no memory.
      const std::size_t skip = std::min(m_v2_total - m_consumed, chunk.size() - used);
      used += skip;
      m_consumed += skip;
    } else {
      ++m_consumed;
      step(chunk[used++]);
    }
    if (m_state == state::v2_body && m_consumed == m_v2_total) {
      finish_v2();
    }
  }
  switch (m_state) {
    case state::done:
      return {proxy_status::done, used, m_consumed, {}};
    case state::invalid:
      return {proxy_status::invalid, used, 0, m_reason};
    default:
      return {proxy_status::need_more, used, 0, {}};
  }
}

void proxy_header_parser::step(char byte) noexcept {
  switch (m_state) {
    case state::start:
      // The first byte decides the version: 'P' can only begin v1, CR only v2's signature.
      if (byte == v1_prefix.front()) {
        m_state = state::v1;
      } else if (static_cast<std::uint8_t>(byte) == v2_signature.front()) {
        m_state = state::v2_fixed;
      } else {
        fail("not a PROXY header (neither \"PROXY \" nor the v2 signature)");
        return;
      }
      m_buffer[m_buffered++] = byte;
      return;
    case state::v1:
      step_v1(byte);
      return;
    case state::v2_fixed:
      step_v2_fixed(byte);
      return;
    case state::v2_body:
      // Only the address block is kept; feed skips the rest in bulk.
      m_buffer[m_buffered++] = byte;
      return;
    case state::done:
    case state::invalid:
      return;
  }
}

void proxy_header_parser::step_v1(char byte) noexcept {
  // Each byte is judged as it arrives, so that a peer that is not a proxy is refused at once
  // instead of after a timeout or 107 bytes.
  if (m_buffered < v1_prefix.size()) {
    if (byte != v1_prefix[m_buffered]) {
      fail("PROXY v1: the line does not begin with \"PROXY \"");
      return;
    }
    m_buffer[m_buffered++] = byte;
    return;
  }
  const bool after_cr = m_buffer[m_buffered - 1] == '\r';
  if (after_cr && byte != '\n') {
    fail("PROXY v1: CR not followed by LF");
    return;
  }
  if (after_cr) {
    const std::string_view line(m_buffer.data(), m_buffered - 1);
    const std::string_view reason = detail::parse_proxy_v1_line(line, m_addresses);
    if (!reason.empty()) {
      fail(reason);
      return;
    }
    m_state = state::done;
    return;
  }
  if (byte == '\n') {
    fail("PROXY v1: LF without CR");
    return;
  }
  if (m_buffered + 1 == max_v1_bytes) {
    // This byte would be the 107th, and it does not end a CRLF: the line is too long.
    fail("PROXY v1: no CRLF within 107 bytes");
    return;
  }
  m_buffer[m_buffered++] = byte;
}

void proxy_header_parser::step_v2_fixed(char byte) noexcept {
  const std::size_t index = m_buffered;
  const auto value = static_cast<std::uint8_t>(byte);
  m_buffer[m_buffered++] = byte;
  if (index < v2_signature.size()) {
    if (value != v2_signature[index]) {
      fail("PROXY v2: bad signature");
    }
    return;
  }
  if (index == 12) {
    if ((value >> 4) != 2) {
      fail("PROXY v2: unsupported version (only 2 is defined)");
    } else if ((value & 0x0f) > v2_command_proxy) {
      fail("PROXY v2: unknown command (only LOCAL and PROXY are defined)");
    }
    return;
  }
  const bool proxy = (static_cast<std::uint8_t>(m_buffer[12]) & 0x0f) == v2_command_proxy;
  if (index == 13) {
    // LOCAL's family byte is ignored, as the spec says; PROXY's must be one it defines.
    if (proxy && ((value >> 4) > 3 || (value & 0x0f) > 2)) {
      fail("PROXY v2: unknown address family or transport protocol");
    }
    return;
  }
  if (index + 1 < v2_fixed_bytes) {
    return;
  }
  const std::size_t length = read_u16(&m_buffer[14]);
  m_v2_total = v2_fixed_bytes + length;
  if (m_v2_total > max_header_bytes) {
    fail("PROXY v2: header longer than 4096 bytes");
    return;
  }
  const auto family = static_cast<std::uint8_t>(m_buffer[13]);
  std::size_t block = 0;
  if (proxy && family == v2_tcp_over_ipv4) {
    block = v2_ipv4_block;
  } else if (proxy && family == v2_tcp_over_ipv6) {
    block = v2_ipv6_block;
  }
  if (length < block) {
    fail("PROXY v2: length too short for the address family");
    return;
  }
  m_v2_keep = v2_fixed_bytes + block;
  m_state = state::v2_body;
}

void proxy_header_parser::finish_v2() noexcept {
  const bool proxy = (static_cast<std::uint8_t>(m_buffer[12]) & 0x0f) == v2_command_proxy;
  const auto family = static_cast<std::uint8_t>(m_buffer[13]);
  const char* block = &m_buffer[v2_fixed_bytes];
  m_addresses = {};
  // Other families (UNSPEC, AF_UNIX, UDP) carry nothing this TCP service can use, so they
  // fall back to the connection's own endpoints, as the spec asks of a receiver that does
  // not implement them.
  if (proxy && family == v2_tcp_over_ipv4) {
    m_addresses.family = AF_INET;
    std::memcpy(m_addresses.source.data(), block, 4);
    std::memcpy(m_addresses.destination.data(), block + 4, 4);
    m_addresses.source_port = read_u16(block + 8);
    m_addresses.destination_port = read_u16(block + 10);
  } else if (proxy && family == v2_tcp_over_ipv6) {
    m_addresses.family = AF_INET6;
    std::memcpy(m_addresses.source.data(), block, 16);
    std::memcpy(m_addresses.destination.data(), block + 16, 16);
    m_addresses.source_port = read_u16(block + 32);
    m_addresses.destination_port = read_u16(block + 34);
  }
  m_state = state::done;
}

void proxy_header_parser::fail(std::string_view reason) noexcept {
  m_reason = reason;
  m_state = state::invalid;
}

namespace {

runtime::address make_address(int family, const std::array<std::uint8_t, 16>& bytes,
                              std::uint16_t port) noexcept {
  if (family == AF_INET) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&v4.sin_addr, bytes.data(), 4);
    return runtime::address::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  }
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  std::memcpy(&v6.sin6_addr, bytes.data(), 16);
  return runtime::address::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

}  // namespace

proxy_header proxy_header_parser::header() const noexcept {
  proxy_header out;
  if (m_state != state::done || m_addresses.family == AF_UNSPEC) {
    return out;
  }
  out.local = false;
  out.source = make_address(m_addresses.family, m_addresses.source, m_addresses.source_port);
  out.destination =
      make_address(m_addresses.family, m_addresses.destination, m_addresses.destination_port);
  return out;
}

}  // namespace ringline::protocol

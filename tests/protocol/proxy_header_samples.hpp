#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

// PROXY protocol headers byte for byte, laid out as HAProxy's doc/proxy-protocol.txt gives
// them (v1 in section 2.1, v2 in section 2.2), for the proxy_header tests.

namespace ringline::protocol::proxy_samples {

/// The spec's v1 example (section 2.1).
inline const std::string v1_tcp4 = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
/// The spec's longest TCP4 line: 56 bytes.
inline const std::string v1_tcp4_longest =
    "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
inline const std::string v1_tcp6 = "PROXY TCP6 2001:db8::1 ::1 56324 10008\r\n";
/// The spec's longest TCP6 line: 104 bytes.
inline const std::string v1_tcp6_longest =
    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    "65535 65535\r\n";
/// The spec's worst case, UNKNOWN with the optional fields: 107 bytes.
inline const std::string v1_unknown_longest =
    "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    "65535 65535\r\n";

/// Returns `values` as bytes, after the 12-byte v2 signature when `signed_v2`.
inline std::string bytes(std::initializer_list<int> values, bool signed_v2 = false) {
  std::string out;
  if (signed_v2) {
    out = std::string("\r\n\r\n\0\r\nQUIT\n", 12);
  }
  for (const int value : values) {
    out.push_back(static_cast<char>(value));
  }
  return out;
}

/// Returns a v2 header: signature, `version_command`, `family`, the length of `body`, `body`.
inline std::string v2_header(int version_command, int family, const std::string& body) {
  return bytes({version_command, family, static_cast<int>(body.size() >> 8),
                static_cast<int>(body.size() & 0xff)},
               true) +
         body;
}

/// Returns one TLV: type, 16-bit length, value.
inline std::string tlv(int type, std::string_view value) {
  return bytes({type, static_cast<int>(value.size() >> 8), static_cast<int>(value.size() & 0xff)}) +
         std::string(value);
}

/// 127.0.0.11:50000 -> 10.0.0.1:10008 (50000 = 0xc350, 10008 = 0x2718).
inline std::string ipv4_block() {
  return bytes({127, 0, 0, 11, 10, 0, 0, 1, 0xc3, 0x50, 0x27, 0x18});
}

/// [2001:db8::11]:50000 -> [2001:db8::1]:10008.
inline std::string ipv6_block() {
  return bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,  //
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  //
                0xc3, 0x50, 0x27, 0x18});
}

/// PROXY (0x21), TCP over IPv4 (0x11), length 12.
inline std::string v2_ipv4() {
  return v2_header(0x21, 0x11, ipv4_block());
}
/// PROXY (0x21), TCP over IPv6 (0x21), length 36.
inline std::string v2_ipv6() {
  return v2_header(0x21, 0x21, ipv6_block());
}
/// LOCAL (0x20), UNSPEC (0x00), length 0: what HAProxy sends for a health check.
inline std::string v2_local() {
  return v2_header(0x20, 0x00, "");
}
/// IPv4 plus a NOOP TLV (padding) and an ALPN TLV ("h2"): length 12 + 6 + 5 = 23.
inline std::string v2_ipv4_with_tlvs() {
  return v2_header(0x21, 0x11, ipv4_block() + tlv(0x04, "pad") + tlv(0x01, "h2"));
}
/// LOCAL with a TCP over IPv4 block and a TLV anyway: the receiver must skip the length.
inline std::string v2_local_with_block() {
  return v2_header(0x20, 0x11, ipv4_block() + tlv(0x04, "four"));
}
/// PROXY over AF_UNIX stream (0x31): two 108-byte paths.
inline std::string v2_unix() {
  std::string paths(216, '\0');
  paths.replace(0, 9, "/run/a.sk");
  paths.replace(108, 9, "/run/b.sk");
  return v2_header(0x21, 0x31, paths);
}
/// v2_ipv4 with a NOOP TLV that makes the whole header `total` bytes long (at least 31).
inline std::string v2_ipv4_padded_to(std::size_t total) {
  return v2_header(0x21, 0x11, ipv4_block() + tlv(0x04, std::string(total - 16 - 12 - 3, 'p')));
}

}  // namespace ringline::protocol::proxy_samples

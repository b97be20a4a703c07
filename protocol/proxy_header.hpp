#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/proxy_header_v1.hpp"
#include "runtime/address.hpp"

namespace ringline::protocol {

/// What a PROXY protocol header (HAProxy's v1 text or v2 binary form) says about a connection.
struct proxy_header {
  /// True when the header carries no address: v2 LOCAL (a load balancer's health check), v1
  /// UNKNOWN, or v2 PROXY for a family other than TCP over IPv4/IPv6. The connection's own
  /// endpoints then stand for the client and the server.
  bool local = true;
  /// The client's address as the load balancer saw it; empty (AF_UNSPEC) when local.
  runtime::address source;
  /// The address the client connected to; empty (AF_UNSPEC) when local.
  runtime::address destination;
};

/// Says what proxy_header_parser::feed found.
enum class proxy_status {
  need_more,  ///< The header is unfinished; feed the next chunk.
  done,       ///< The header is complete and valid; see proxy_step::used.
  invalid,    ///< The bytes are not a valid header; close the connection. For good.
};

/// One result of proxy_header_parser::feed.
struct proxy_step {
  /// What was found.
  proxy_status status = proxy_status::need_more;
  /// How many bytes at the start of the chunk just fed belong to the header: with done, the
  /// bytes after them are the session's first line data; with need_more, the whole chunk;
  /// with invalid, how far the parser read before it gave up.
  std::size_t used = 0;
  /// With done, the header's length in bytes from the start of the connection; 0 otherwise.
  std::size_t header_bytes = 0;
  /// With invalid, why, in words fit for a log line (static text); empty otherwise.
  std::string_view reason;
};

/// Reads a PROXY protocol header (v1 or v2) from the first bytes of a connection, received in
/// chunks of any size, without allocating and without copying more than 107 bytes.
///
/// Never guesses: anything that does not begin like a v1 (`PROXY `) or v2 (12-byte signature)
/// header is invalid at its first wrong byte, and the parser stops exactly at the header's
/// end, so the bytes after it are never consumed. Accepted: v1 `TCP4`, `TCP6` and `UNKNOWN`
/// lines of at most 107 bytes; v2 LOCAL and PROXY headers of at most max_header_bytes, whose
/// TLVs are skipped uninterpreted. docs/protocol.md lists every rule.
///
/// Usage: feed(chunk) until it returns done or invalid; after done, header() says what the
/// header carried. Not thread-safe; one parser belongs to one connection. Its verdict, header
/// length and reason do not depend on how the bytes were split into chunks.
class proxy_header_parser {
 public:
  /// The longest v1 line, "\r\n" included (the spec's worst case, UNKNOWN with addresses).
  static constexpr std::size_t max_v1_bytes = 107;
  /// The longest v2 header accepted, its 16 fixed bytes included. HAProxy's TLVs (ALPN,
  /// authority, unique id, SSL details) fit with room to spare; a larger one is refused
  /// rather than skipped, so a bogus length cannot keep a connection in the header for long.
  static constexpr std::size_t max_header_bytes = 4096;

  /// Consumes the header's bytes at the start of `chunk` and returns the verdict so far. An
  /// empty chunk is allowed. Once done or invalid has been returned, every later call returns
  /// the same status (and reason) with used 0.
  [[nodiscard]] proxy_step feed(std::span<const char> chunk) noexcept;

  /// Returns what the header carried; only meaningful after feed returned done.
  [[nodiscard]] proxy_header header() const noexcept;

  /// Returns how many header bytes the parser has consumed so far (the header's length once
  /// done).
  [[nodiscard]] std::size_t consumed() const noexcept { return m_consumed; }

 private:
  enum class state : std::uint8_t { start, v1, v2_fixed, v2_body, done, invalid };

  void step(char byte) noexcept;
  void step_v1(char byte) noexcept;
  void step_v2_fixed(char byte) noexcept;
  void finish_v2() noexcept;
  void fail(std::string_view reason) noexcept;

  // The bytes that must be looked at as a whole: a v1 line, or v2's fixed part and address
  // block (at most 16 + 36). TLVs and other address blocks are counted, not kept.
  std::array<char, max_v1_bytes> m_buffer{};
  std::size_t m_buffered = 0;
  std::size_t m_consumed = 0;
  // v2: the header's length (16 + its length field) and how many of its bytes to keep.
  std::size_t m_v2_total = 0;
  std::size_t m_v2_keep = 0;
  detail::raw_proxy_addresses m_addresses;
  std::string_view m_reason;
  state m_state = state::start;
};

}  // namespace ringline::protocol

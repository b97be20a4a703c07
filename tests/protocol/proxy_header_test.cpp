#include "protocol/proxy_header.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/protocol/proxy_header_samples.hpp"

namespace ringline::protocol {
namespace {

using namespace std::string_literals;
using namespace proxy_samples;

/// Everything a parser says about one input, in a form that compares and prints.
struct outcome {
  proxy_status status = proxy_status::need_more;
  std::size_t header_bytes = 0;
  std::string reason;
  bool local = true;
  std::string source;
  std::string destination;

  bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& out, const outcome& value) {
  static constexpr const char* names[] = {"need_more", "done", "invalid"};
  return out << '{' << names[static_cast<int>(value.status)] << " bytes=" << value.header_bytes
             << " reason='" << value.reason << "' local=" << value.local
             << " source=" << value.source << " destination=" << value.destination << '}';
}

outcome describe(const proxy_header_parser& parser, const proxy_step& last) {
  outcome out;
  out.status = last.status;
  out.header_bytes = last.header_bytes;
  out.reason = last.reason;
  if (last.status == proxy_status::done) {
    const proxy_header header = parser.header();
    out.local = header.local;
    out.source = header.local ? "" : header.source.to_string();
    out.destination = header.local ? "" : header.destination.to_string();
  }
  return out;
}

/// Feeds `input` in pieces cut at the sorted offsets `cuts`, stopping at the first verdict,
/// and checks that a done verdict used exactly the header's bytes of the piece it came with.
outcome parse(std::string_view input, const std::vector<std::size_t>& cuts = {}) {
  proxy_header_parser parser;
  proxy_step last;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    // A copy of exactly the piece's size, so ASan sees a read past it.
    const std::string piece(input.substr(start, end - start));
    last = parser.feed(piece);
    if (last.status == proxy_status::done) {
      EXPECT_EQ(start + last.used, last.header_bytes) << "done after the header's end";
    }
    if (last.status != proxy_status::need_more) {
      break;
    }
    EXPECT_EQ(last.used, piece.size()) << "need_more without using the whole piece";
    start = end;
  }
  return describe(parser, last);
}

/// Feeds `input` one byte at a time.
outcome parse_bytewise(std::string_view input) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input.size(); ++i) {
    cuts.push_back(i);
  }
  return parse(input, cuts);
}

outcome done_local(std::size_t bytes) {
  return {proxy_status::done, bytes, "", true, "", ""};
}

outcome done_with(std::size_t bytes, std::string source, std::string destination) {
  return {proxy_status::done, bytes, "", false, std::move(source), std::move(destination)};
}

struct valid_case {
  const char* name;
  std::string header;
  outcome expected;
};

std::vector<valid_case> valid_cases() {
  return {
      {"v1 TCP4 (the spec's example)", v1_tcp4,
       done_with(v1_tcp4.size(), "192.168.0.1:56324", "192.168.0.11:443")},
      {"v1 TCP4, the longest", v1_tcp4_longest,
       done_with(56, "255.255.255.255:65535", "255.255.255.255:65535")},
      {"v1 TCP4, port 0", "PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n",
       done_with(34, "10.0.0.1:0", "10.0.0.2:0")},
      {"v1 TCP6", v1_tcp6, done_with(v1_tcp6.size(), "[2001:db8::1]:56324", "[::1]:10008")},
      {"v1 TCP6, the longest", v1_tcp6_longest,
       done_with(104, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")},
      {"v1 UNKNOWN, short form", "PROXY UNKNOWN\r\n", done_local(15)},
      {"v1 UNKNOWN, the longest (107 bytes)", v1_unknown_longest, done_local(107)},
      {"v2 PROXY TCP over IPv4", v2_ipv4(), done_with(28, "127.0.0.11:50000", "10.0.0.1:10008")},
      {"v2 PROXY TCP over IPv6", v2_ipv6(),
       done_with(52, "[2001:db8::11]:50000", "[2001:db8::1]:10008")},
      {"v2 PROXY TCP over IPv4 with TLVs", v2_ipv4_with_tlvs(),
       done_with(39, "127.0.0.11:50000", "10.0.0.1:10008")},
      {"v2 PROXY TCP over IPv6 with TLVs", v2_header(0x21, 0x21, ipv6_block() + tlv(0x05, "id-1")),
       done_with(52 + 7, "[2001:db8::11]:50000", "[2001:db8::1]:10008")},
      {"v2 LOCAL (a health check)", v2_local(), done_local(16)},
      {"v2 LOCAL with an address block and a TLV: the length is honoured", v2_local_with_block(),
       done_local(16 + 12 + 7)},
      {"v2 PROXY UNSPEC", bytes({0x21, 0x00, 0x00, 0x00}, true), done_local(16)},
      {"v2 PROXY AF_UNIX stream", v2_unix(), done_local(16 + 216)},
      {"v2 PROXY UDP over IPv4", v2_header(0x21, 0x12, std::string(12, '\x01')), done_local(28)},
      {"v2 of exactly 4096 bytes", v2_ipv4_padded_to(4096),
       done_with(4096, "127.0.0.11:50000", "10.0.0.1:10008")},
  };
}

// Fix the byte lengths of the samples, so that a sample changed by mistake shows up here.
TEST(proxy_header_test, samples_have_the_lengths_the_spec_gives) {
  EXPECT_EQ(v1_tcp4.size(), 47U);
  EXPECT_EQ(v1_tcp4_longest.size(), 56U);
  EXPECT_EQ(v1_tcp6_longest.size(), 104U);
  EXPECT_EQ(v1_unknown_longest.size(), 107U);
  EXPECT_EQ(v2_ipv4().size(), 28U);
  EXPECT_EQ(v2_ipv6().size(), 52U);
  EXPECT_EQ(v2_local().size(), 16U);
}

TEST(proxy_header_test, accepts_spec_examples_fed_whole) {
  for (const auto& sample : valid_cases()) {
    EXPECT_EQ(parse(sample.header), sample.expected) << sample.name;
  }
}

TEST(proxy_header_test, accepts_spec_examples_fed_one_byte_at_a_time) {
  for (const auto& sample : valid_cases()) {
    EXPECT_EQ(parse_bytewise(sample.header), sample.expected) << sample.name;
  }
}

TEST(proxy_header_test, same_result_whatever_the_split) {
  for (const auto& sample : valid_cases()) {
    const std::string input = sample.header + "hello\n";
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      ASSERT_EQ(parse(input, {cut}), sample.expected) << sample.name << ", cut at " << cut;
    }
  }
}

TEST(proxy_header_test, every_proper_prefix_needs_more) {
  for (const auto& sample : valid_cases()) {
    for (std::size_t size = 0; size < sample.header.size(); ++size) {
      proxy_header_parser parser;
      const std::string prefix = sample.header.substr(0, size);
      const proxy_step step = parser.feed(prefix);
      ASSERT_EQ(step.status, proxy_status::need_more) << sample.name << ", " << size << " bytes";
      ASSERT_EQ(step.used, size);
      ASSERT_EQ(parser.consumed(), size);
    }
  }
}

TEST(proxy_header_test, leaves_the_bytes_after_the_header_unconsumed) {
  for (const auto& sample : valid_cases()) {
    // Data that would be a valid header or a line terminator itself must not be taken either.
    for (const std::string& after : {"first line\r\n"s, "\r\n"s, "PROXY UNKNOWN\r\n"s, "\n"s}) {
      const std::string input = sample.header + after;
      proxy_header_parser parser;
      const proxy_step step = parser.feed(input);
      ASSERT_EQ(step.status, proxy_status::done) << sample.name;
      EXPECT_EQ(step.used, sample.header.size()) << sample.name;
      EXPECT_EQ(step.header_bytes, sample.header.size()) << sample.name;
      EXPECT_EQ(input.substr(step.used), after) << sample.name;
    }
  }
}

TEST(proxy_header_test, done_in_a_later_chunk_reports_the_bytes_of_that_chunk) {
  const std::string input = v1_tcp4 + "GET / HTTP/1.1\r\n";
  proxy_header_parser parser;
  EXPECT_EQ(parser.feed(std::string_view(input).substr(0, 20)).status, proxy_status::need_more);
  const proxy_step step = parser.feed(std::string_view(input).substr(20));
  ASSERT_EQ(step.status, proxy_status::done);
  EXPECT_EQ(step.used, v1_tcp4.size() - 20);
  EXPECT_EQ(step.header_bytes, v1_tcp4.size());
  EXPECT_EQ(input.substr(20 + step.used), "GET / HTTP/1.1\r\n");
}

TEST(proxy_header_test, verdict_is_final) {
  proxy_header_parser parser;
  ASSERT_EQ(parser.feed(v2_ipv4()).status, proxy_status::done);
  const proxy_step again = parser.feed(v1_tcp4);
  EXPECT_EQ(again.status, proxy_status::done);
  EXPECT_EQ(again.used, 0U);
  EXPECT_EQ(parser.header().source.to_string(), "127.0.0.11:50000");

  proxy_header_parser refused;
  const proxy_step first = refused.feed("hello\n"s);
  ASSERT_EQ(first.status, proxy_status::invalid);
  const proxy_step later = refused.feed(v1_tcp4);
  EXPECT_EQ(later.status, proxy_status::invalid);
  EXPECT_EQ(later.used, 0U);
  EXPECT_EQ(later.reason, first.reason);
}

TEST(proxy_header_test, empty_chunk_needs_more) {
  proxy_header_parser parser;
  const proxy_step step = parser.feed(std::span<const char>{});
  EXPECT_EQ(step.status, proxy_status::need_more);
  EXPECT_EQ(step.used, 0U);
  EXPECT_TRUE(parser.header().local);
}

TEST(proxy_header_test, rejects_at_the_first_wrong_byte) {
  // A peer that is not a proxy speaks first with a line of its own: it is refused at once,
  // not after a timeout.
  proxy_header_parser parser;
  const proxy_step step = parser.feed("h"s);
  EXPECT_EQ(step.status, proxy_status::invalid);
  EXPECT_EQ(step.used, 1U);
}

TEST(proxy_header_test, skips_a_large_tlv_area_split_into_chunks) {
  const std::string input = v2_ipv4_padded_to(4096) + "x\n";
  proxy_header_parser parser;
  proxy_step step;
  std::size_t start = 0;
  while (step.status == proxy_status::need_more && start < input.size()) {
    step = parser.feed(std::string_view(input).substr(start, 1000));
    start += step.used;
  }
  ASSERT_EQ(step.status, proxy_status::done);
  EXPECT_EQ(start, 4096U);
  EXPECT_EQ(parser.header().destination.to_string(), "10.0.0.1:10008");
}

struct invalid_case {
  const char* name;
  std::string input;
  /// A part of the reason the parser must give.
  std::string_view reason;
};

std::vector<invalid_case> invalid_cases() {
  const std::string long_tail(120, 'x');
  return {
      {"a plain line", "hello\n", "not a PROXY header"},
      {"an empty line", "\n", "not a PROXY header"},
      {"lowercase proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header"},
      {"PROXY without a space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "does not begin with"},
      {"PROXY alone", "PROXY\r\n", "does not begin with"},
      {"two spaces after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"},
      {"unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"},
      {"lowercase protocol", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"},
      {"UNKNOWN glued to more", "PROXY UNKNOWNX\r\n", "unknown protocol"},
      {"UDP4 is not v1", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol"},
      {"two spaces between fields", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "empty field"},
      {"a trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "trailing space"},
      {"a tab for a space", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "too few fields"},
      {"three fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "too few fields"},
      {"five fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "too many fields"},
      {"TCP4 with nothing after", "PROXY TCP4 \r\n", "empty field"},
      {"bad IPv4 source", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "bad TCP4 source address"},
      {"IPv4 with three parts", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "bad TCP4 source address"},
      {"IPv4 with a leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
       "bad TCP4 source address"},
      {"bad IPv4 destination", "PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n", "bad TCP4 destination"},
      {"IPv6 in TCP4", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "bad TCP4 source address"},
      {"IPv4 in TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "bad TCP6 source address"},
      {"IPv6 with a zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "bad TCP6 source address"},
      {"a host name", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", "bad TCP4 source address"},
      {"NUL after an address", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"s, "bad TCP4 source"},
      {"port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad source port"},
      {"destination port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "bad destination port"},
      {"port 100000", "PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n", "bad source port"},
      {"port with a plus", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", "bad source port"},
      {"negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "bad source port"},
      {"port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "bad source port"},
      {"port in hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n", "bad source port"},
      {"LF without CR", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR"},
      {"CR without LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR not followed by LF"},
      {"CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "CR not followed by LF"},
      {"UNKNOWN with a lone LF in its tail", "PROXY UNKNOWN a\nb\r\n", "LF without CR"},
      {"no CRLF within 107 bytes", "PROXY UNKNOWN " + long_tail, "no CRLF within 107 bytes"},
      {"108 bytes with CRLF", "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n",
       "no CRLF within 107 bytes"},
      {"v2: wrong signature", bytes({0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 'q'}),
       "bad signature"},
      {"v2: a CRLF line", "\r\nhello\r\n", "bad signature"},
      {"v2: version 1", v2_header(0x11, 0x11, ipv4_block()), "unsupported version"},
      {"v2: version 3", v2_header(0x31, 0x11, ipv4_block()), "unsupported version"},
      {"v2: command 2", v2_header(0x22, 0x11, ipv4_block()), "unknown command"},
      {"v2: command 15", v2_header(0x2f, 0x00, ""), "unknown command"},
      {"v2: family 4", v2_header(0x21, 0x41, ipv4_block()), "unknown address family"},
      {"v2: transport 3", v2_header(0x21, 0x13, ipv4_block()), "unknown address family"},
      {"v2: IPv4 block cut to 8 bytes", v2_header(0x21, 0x11, ipv4_block().substr(0, 8)),
       "length too short"},
      {"v2: IPv6 with an IPv4 block", v2_header(0x21, 0x21, ipv4_block()), "length too short"},
      {"v2: length 0xffff", bytes({0x21, 0x11, 0xff, 0xff}, true), "longer than 4096"},
      {"v2: 4097 bytes", v2_ipv4_padded_to(4097), "longer than 4096"},
  };
}

TEST(proxy_header_test, rejects_malformed_headers_with_a_reason) {
  for (const auto& sample : invalid_cases()) {
    const outcome whole = parse(sample.input);
    EXPECT_EQ(whole.status, proxy_status::invalid) << sample.name << ": " << whole;
    EXPECT_NE(whole.reason.find(sample.reason), std::string::npos)
        << sample.name << ": the reason is '" << whole.reason << "'";
    EXPECT_EQ(parse_bytewise(sample.input), whole) << sample.name;
  }
}

TEST(proxy_header_test, truncated_headers_are_never_done) {
  // What the caller's header timeout is for: a peer that stops in the middle of a header.
  for (const std::string& input :
       {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2"s, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"s, "P"s,
        v2_ipv4().substr(0, 27), v2_ipv4_with_tlvs().substr(0, 30), v2_local().substr(0, 15),
        "PROXY UNKNOWN " + std::string(92, 'x')}) {
    EXPECT_EQ(parse(input).status, proxy_status::need_more) << input.size() << " bytes";
  }
}

}  // namespace
}  // namespace ringline::protocol

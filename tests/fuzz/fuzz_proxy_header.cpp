// libFuzzer target: protocol::proxy_header_parser must reach the same verdict, header length,
// reason and addresses whether the bytes come whole, split in two or one at a time; agree with
// a whole-buffer reference written from the spec; and re-parse what it accepted.
//
// Input: byte 0 picks the split point (byte * (stream size + 1) / 256); the rest is the
// connection's first bytes. See docs/testing.md.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/proxy_header.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ringline::fuzz::check;
using ringline::fuzz::escaped;
using ringline::fuzz::fail;
using ringline::protocol::proxy_header;
using ringline::protocol::proxy_header_parser;
using ringline::protocol::proxy_status;
using ringline::protocol::proxy_step;

constexpr std::string_view v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::size_t max_v1 = proxy_header_parser::max_v1_bytes;
constexpr std::size_t max_v2 = proxy_header_parser::max_header_bytes;

/// What a parser (or the reference) made of a stream.
struct verdict {
  proxy_status status = proxy_status::need_more;
  std::size_t header_bytes = 0;
  std::string reason;  // empty for the reference, which does not word its reasons
  bool local = true;
  std::string source;
  std::string destination;
};

verdict make_verdict(proxy_status status, std::size_t header_bytes = 0) {
  verdict out;
  out.status = status;
  out.header_bytes = header_bytes;
  return out;
}

std::string describe(const verdict& v) {
  static constexpr const char* names[] = {"need_more", "done", "invalid"};
  return std::string(names[static_cast<int>(v.status)]) +
         " bytes=" + std::to_string(v.header_bytes) + " reason='" + v.reason +
         "' local=" + std::to_string(v.local) + " " + v.source + " -> " + v.destination;
}

/// Feeds `stream` cut at the sorted offsets `cuts`, each piece in an allocation of its exact
/// size, and checks the step contract on the way.
verdict run(std::string_view stream, const std::vector<std::size_t>& cuts) {
  proxy_header_parser parser;
  proxy_step last;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
    const std::size_t length = end - start;
    auto piece = std::make_unique<char[]>(length);
    std::memcpy(piece.get(), stream.data() + start, length);
    last = parser.feed({piece.get(), length});
    check(last.used <= length, "feed used more bytes than it was given");
    if (last.status == proxy_status::need_more) {
      check(last.used == length, "need_more without using the whole chunk");
      check(parser.consumed() == end, "consumed() is not the bytes fed so far");
      check(last.reason.empty() && last.header_bytes == 0, "need_more came with a reason");
      start = end;
      continue;
    }
    if (last.status == proxy_status::done) {
      check(start + last.used == last.header_bytes, "done's used and header_bytes disagree");
      check(parser.consumed() == last.header_bytes, "consumed() is not the header's length");
      check(last.reason.empty(), "done came with a reason");
    } else {
      check(!last.reason.empty(), "invalid came without a reason");
    }
    // The verdict is final.
    const proxy_step again = parser.feed({piece.get(), length});
    check(again.status == last.status && again.used == 0 && again.reason == last.reason,
          "a feed after the verdict changed it");
    break;
  }
  verdict out = make_verdict(last.status, last.header_bytes);
  out.reason = last.reason;
  if (last.status == proxy_status::done) {
    const proxy_header header = parser.header();
    out.local = header.local;
    check(header.local == (header.source.family() == AF_UNSPEC), "local disagrees with source");
    check(header.source.family() == header.destination.family(), "the families differ");
    if (!header.local) {
      out.source = header.source.to_string();
      out.destination = header.destination.to_string();
    }
  }
  return out;
}

bool same(const verdict& a, const verdict& b, bool compare_reasons) {
  return a.status == b.status && a.header_bytes == b.header_bytes && a.local == b.local &&
         a.source == b.source && a.destination == b.destination &&
         (!compare_reasons || a.reason == b.reason);
}

std::string address_text(int family, const void* raw, std::uint16_t port) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, raw, text, sizeof text);
  return family == AF_INET6 ? "[" + std::string(text) + "]:" + std::to_string(port)
                            : std::string(text) + ":" + std::to_string(port);
}

bool is_port(const std::string& text, std::uint16_t& out) {
  if (text.empty() || text.size() > 5 || (text[0] == '0' && text.size() > 1) ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const unsigned long value = std::stoul(text);
  out = static_cast<std::uint16_t>(value);
  return value <= 65535;
}

/// The spec's v1 rules applied to a whole line without its CRLF, written independently of
/// the product's parser: split at every space, then check the pieces.
verdict reference_v1_line(const std::string& line) {
  verdict out = make_verdict(proxy_status::invalid);
  std::vector<std::string> words;
  for (std::size_t start = 0;;) {
    const std::size_t space = line.find(' ', start);
    words.push_back(line.substr(start, space - start));
    if (space == std::string::npos) {
      break;
    }
    start = space + 1;
  }
  if (words.size() < 2 || words[0] != "PROXY") {
    return out;
  }
  if (words[1] == "UNKNOWN") {
    return make_verdict(proxy_status::done);
  }
  const int family = words[1] == "TCP4" ? AF_INET : words[1] == "TCP6" ? AF_INET6 : -1;
  if (family < 0 || words.size() != 6) {
    return out;
  }
  unsigned char source[16];
  unsigned char destination[16];
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  // A NUL would end inet_pton's string early, so a field with one is not an address.
  if (words[2].find('\0') != std::string::npos || words[3].find('\0') != std::string::npos ||
      ::inet_pton(family, words[2].c_str(), source) != 1 ||
      ::inet_pton(family, words[3].c_str(), destination) != 1 || !is_port(words[4], source_port) ||
      !is_port(words[5], destination_port)) {
    return out;
  }
  out = make_verdict(proxy_status::done, line.size() + 2);
  out.local = false;
  out.source = address_text(family, source, source_port);
  out.destination = address_text(family, destination, destination_port);
  return out;
}

verdict reference_v1(std::string_view s) {
  for (std::size_t i = 0; i < s.size() && i < 6; ++i) {
    if (s[i] != "PROXY "[i]) {
      return make_verdict(proxy_status::invalid);
    }
  }
  const std::size_t end = s.find_first_of("\r\n");
  if (end == std::string_view::npos) {
    return make_verdict(s.size() >= max_v1 ? proxy_status::invalid : proxy_status::need_more);
  }
  if (s[end] == '\n' || end + 2 > max_v1) {
    return make_verdict(proxy_status::invalid);
  }
  if (end + 1 == s.size()) {
    return make_verdict(proxy_status::need_more);
  }
  if (s[end + 1] != '\n') {
    return make_verdict(proxy_status::invalid);
  }
  verdict out = reference_v1_line(std::string(s.substr(0, end)));
  if (out.status == proxy_status::done) {
    out.header_bytes = end + 2;
  }
  return out;
}

verdict reference_v2(std::string_view s) {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.substr(0, 12) != v2_signature.substr(0, std::min<std::size_t>(12, s.size()))) {
    return make_verdict(proxy_status::invalid);
  }
  if (s.size() < 13) {
    return make_verdict(proxy_status::need_more);
  }
  if (at(12) >> 4 != 2 || (at(12) & 0xf) > 1) {
    return make_verdict(proxy_status::invalid);
  }
  const bool proxy = (at(12) & 0xf) == 1;
  if (s.size() < 14) {
    return make_verdict(proxy_status::need_more);
  }
  if (proxy && (at(13) >> 4 > 3 || (at(13) & 0xf) > 2)) {
    return make_verdict(proxy_status::invalid);
  }
  if (s.size() < 16) {
    return make_verdict(proxy_status::need_more);
  }
  const std::size_t length = at(14) * 256U + at(15);
  const int family = !proxy ? 0 : at(13) == 0x11 ? AF_INET : at(13) == 0x21 ? AF_INET6 : 0;
  const std::size_t size = family == AF_INET ? 4 : 16;
  if (16 + length > max_v2 || (family != 0 && length < 2 * size + 4)) {
    return make_verdict(proxy_status::invalid);
  }
  if (s.size() < 16 + length) {
    return make_verdict(proxy_status::need_more);
  }
  verdict out = make_verdict(proxy_status::done, 16 + length);
  if (family != 0) {
    const auto port = [&](std::size_t i) {
      return static_cast<std::uint16_t>(at(i) * 256U + at(i + 1));
    };
    out.local = false;
    out.source = address_text(family, s.data() + 16, port(16 + 2 * size));
    out.destination = address_text(family, s.data() + 16 + size, port(18 + 2 * size));
  }
  return out;
}

verdict reference(std::string_view s) {
  if (s.empty()) {
    return make_verdict(proxy_status::need_more);
  }
  if (s[0] == 'P') {
    return reference_v1(s);
  }
  return s[0] == '\r' ? reference_v2(s) : make_verdict(proxy_status::invalid);
}

/// Writes an accepted header again in both forms; each must parse to the same addresses.
void check_reencoded(std::string_view stream, const verdict& got) {
  proxy_header_parser parser;
  check(parser.feed(stream.substr(0, got.header_bytes)).status == proxy_status::done,
        "the header alone is not done");
  const proxy_header header = parser.header();
  std::string v1;
  std::string v2(v2_signature);
  if (header.local) {
    v1 = "PROXY UNKNOWN\r\n";
    v2 += std::string("\x20\x00\x00\x00", 4);
  } else {
    const bool is_v4 = header.source.family() == AF_INET;
    v1 = std::string("PROXY ") + (is_v4 ? "TCP4 " : "TCP6 ") + header.source.host() + " " +
         header.destination.host() + " " + std::to_string(header.source.port()) + " " +
         std::to_string(header.destination.port()) + "\r\n";
    v2 += is_v4 ? std::string("\x21\x11\x00\x0c", 4) : std::string("\x21\x21\x00\x24", 4);
    for (const auto* address : {&header.source, &header.destination}) {
      const auto* raw = address->data();
      v2 += is_v4 ? std::string_view(reinterpret_cast<const char*>(
                                         &reinterpret_cast<const sockaddr_in*>(raw)->sin_addr),
                                     4)
                  : std::string_view(reinterpret_cast<const char*>(
                                         &reinterpret_cast<const sockaddr_in6*>(raw)->sin6_addr),
                                     16);
    }
    for (const std::uint16_t port : {header.source.port(), header.destination.port()}) {
      v2.push_back(static_cast<char>(port >> 8));
      v2.push_back(static_cast<char>(port & 0xff));
    }
  }
  for (const std::string& encoded : {v1, v2}) {
    const verdict again = run(encoded, {});
    if (again.status != proxy_status::done || again.header_bytes != encoded.size() ||
        again.local != got.local || again.source != got.source ||
        again.destination != got.destination) {
      fail("re-encoded '" + escaped(encoded) + "' parses to " + describe(again) +
           ", the original to " + describe(got));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ringline::fuzz::input_reader input(data, size);
  if (!input.has(1)) {
    return 0;
  }
  const std::size_t split_byte = input.byte();
  const std::string_view stream = input.rest();
  const std::size_t split = split_byte * (stream.size() + 1) / 256;

  const verdict whole = run(stream, {});
  check(whole.header_bytes <= stream.size(), "the header is longer than the input");
  const verdict halves = run(stream, {split});
  if (!same(whole, halves, true)) {
    fail("whole: " + describe(whole) + "; split at " + std::to_string(split) + ": " +
         describe(halves) + "; input '" + escaped(stream) + "'");
  }
  if (stream.size() <= 2 * max_v1) {
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < stream.size(); ++i) {
      every_byte.push_back(i);
    }
    const verdict bytewise = run(stream, every_byte);
    if (!same(whole, bytewise, true)) {
      fail("whole: " + describe(whole) + "; byte by byte: " + describe(bytewise) + "; input '" +
           escaped(stream) + "'");
    }
  }
  const verdict expected = reference(stream);
  if (!same(whole, expected, false)) {
    fail("parser: " + describe(whole) + "; reference: " + describe(expected) + "; input '" +
         escaped(stream) + "'");
  }
  if (whole.status == proxy_status::done) {
    check_reencoded(stream, whole);
  }
  return 0;
}

// libFuzzer target: protocol::reply_parser fed in chunks must classify every server line as
// a reference classifier does, with greeting and ack texts taken from the input.
//
// Input: byte 0: max_reply_bytes (byte % 65; 0 means the default, 65536); byte 1: greeting
// text (% 4: 0 "connect", 1 custom, 2 empty, 3 "not connect"); byte 2: ack text (% 4:
// 0 the default ack, 1 custom, 2 empty, 3 the greeting text); byte 3: custom text lengths
// (greeting byte % 8, ack byte / 8 % 8), the custom texts' bytes, a chunk pattern
// (fuzz_support.hpp); the rest is the stream. See docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.hpp"
#include "protocol/reply_parser.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ringline::fuzz::check;
using ringline::fuzz::escaped;
using ringline::fuzz::fail;
using ringline::protocol::reply;
using ringline::protocol::reply_kind;

const char* name(reply_kind kind) {
  switch (kind) {
    case reply_kind::need_more:
      return "need_more";
    case reply_kind::greeting:
      return "greeting";
    case reply_kind::ack:
      return "ack";
    case reply_kind::server_full:
      return "server_full";
    case reply_kind::error:
      return "error";
    case reply_kind::other:
      return "other";
    case reply_kind::too_long:
      return "too_long";
  }
  return "?";
}

// The documented rules, written out plainly: the greeting text is a greeting until one has
// been seen; then the ack text wins over the greeting text (so equal texts make the first
// line the greeting and later ones acks); then the fixed refusal and the "error: " prefix.
class reference_classifier {
 public:
  reference_classifier(std::string_view greeting, std::string_view ack)
      : m_greeting(greeting), m_ack(ack) {}

  reply classify(std::string_view line) {
    if (line == m_greeting && !m_greeted) {
      m_greeted = true;
      return {reply_kind::greeting, line};
    }
    if (line == m_ack) {
      return {reply_kind::ack, line};
    }
    if (line == m_greeting) {
      return {reply_kind::greeting, line};
    }
    if (line == ringline::protocol::server_full_text) {
      return {reply_kind::server_full, line};
    }
    const std::string_view prefix = ringline::protocol::error_prefix;
    if (line.size() >= prefix.size() && line.substr(0, prefix.size()) == prefix) {
      return {reply_kind::error, line.substr(prefix.size())};
    }
    return {reply_kind::other, line};
  }

 private:
  std::string_view m_greeting;
  std::string_view m_ack;
  bool m_greeted = false;
};

std::string_view pick_text(std::uint8_t mode, std::string_view custom, std::string_view fixed,
                           std::string_view other) {
  switch (mode % 4) {
    case 0:
      return fixed;
    case 1:
      return custom;
    case 2:
      return {};
    default:
      return other;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ringline::fuzz::input_reader input(data, size);
  if (!input.has(4)) {
    return 0;
  }
  const std::size_t limit_byte = input.byte() % 65;
  const std::size_t max_reply =
      limit_byte == 0 ? ringline::protocol::reply_parser::default_max_reply_bytes : limit_byte;
  const std::uint8_t greeting_mode = input.byte();
  const std::uint8_t ack_mode = input.byte();
  const std::uint8_t lengths = input.byte();
  const std::size_t greeting_length = lengths % 8;
  const std::size_t ack_length = lengths / 8 % 8;
  if (!input.has(greeting_length + ack_length)) {
    return 0;
  }
  const std::string_view custom_greeting = input.text(greeting_length);
  const std::string_view custom_ack = input.text(ack_length);
  const std::string greeting(pick_text(greeting_mode, custom_greeting,
                                       ringline::protocol::default_greeting,
                                       ringline::protocol::server_full_text));
  const std::string ack(pick_text(ack_mode, custom_ack, ringline::protocol::default_ack, greeting));
  ringline::fuzz::chunk_pattern chunks;
  if (!chunks.read(input)) {
    return 0;
  }
  const std::string_view stream = input.rest();

  const auto frames = ringline::fuzz::reference_frame(stream, max_reply);
  reference_classifier expected(greeting, ack);
  ringline::protocol::reply_parser parser(greeting, ack, max_reply);

  std::size_t seen = 0;
  std::size_t consumed = 0;
  bool failed = false;
  for (std::size_t index = 0; consumed < stream.size() && !failed; ++index) {
    // One exact-size allocation per chunk, freed after need_more (see fuzz_line_framer).
    const std::size_t length = chunks.size(index, stream.size() - consumed);
    auto chunk = std::make_unique<char[]>(length);
    std::memcpy(chunk.get(), stream.data() + consumed, length);
    parser.feed({chunk.get(), length});
    consumed += length;

    std::vector<reply> replies;
    for (;;) {
      const reply got = parser.next();
      if (got.kind == reply_kind::need_more || got.kind == reply_kind::too_long) {
        check(got.text.empty(), "need_more or too_long came with text");
        failed = got.kind == reply_kind::too_long;
        break;
      }
      replies.push_back(got);
    }
    for (const reply& got : replies) {
      if (seen >= frames.lines.size()) {
        fail("parser returned an extra reply: " + std::string(name(got.kind)) + " '" +
             escaped(got.text) + "'");
      }
      const reply want = expected.classify(frames.lines[seen]);
      if (got.kind != want.kind || got.text != want.text) {
        fail("line #" + std::to_string(seen) + " '" + escaped(frames.lines[seen]) +
             "' (greeting '" + escaped(greeting) + "', ack '" + escaped(ack) + "') is " +
             name(got.kind) + " '" + escaped(got.text) + "', expected " + name(want.kind) + " '" +
             escaped(want.text) + "'");
      }
      ++seen;
    }
    chunk.reset();
  }

  if (seen != frames.lines.size()) {
    fail("parser returned " + std::to_string(seen) + " replies, expected " +
         std::to_string(frames.lines.size()));
  }
  if (failed != frames.too_long) {
    fail(frames.too_long ? "a too-long reply was not reported" : "too_long was reported");
  }
  if (failed) {
    check(parser.next().kind == reply_kind::too_long, "next() after too_long differs");
    return 0;
  }
  check(parser.next().kind == reply_kind::need_more, "next() after need_more is not need_more");
  check(parser.has_partial_line() == !frames.partial.empty(),
        "has_partial_line() disagrees with the trailing bytes");
  return 0;
}

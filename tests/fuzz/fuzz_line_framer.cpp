// libFuzzer target: protocol::line_framer fed in chunks must agree with a whole-stream
// reference framer on the lines, the too_long outcome and the trailing partial line.
//
// Input: byte 0: max_line_bytes = byte % 65; then a chunk pattern (fuzz_support.hpp); the
// rest is the byte stream. See docs/testing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/line_framer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ringline::fuzz::check;
using ringline::fuzz::escaped;
using ringline::fuzz::fail;
using ringline::protocol::frame_kind;

void check_line(const ringline::fuzz::reference_frames& expected, std::size_t index,
                std::string_view got) {
  if (index >= expected.lines.size()) {
    fail("framer returned an extra line #" + std::to_string(index) + ": '" + escaped(got) + "'");
  }
  if (got != expected.lines[index]) {
    fail("line #" + std::to_string(index) + " is '" + escaped(got) + "', expected '" +
         escaped(expected.lines[index]) + "'");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ringline::fuzz::input_reader input(data, size);
  if (!input.has(1)) {
    return 0;
  }
  const std::size_t max_line = input.byte() % 65;
  ringline::fuzz::chunk_pattern chunks;
  if (!chunks.read(input)) {
    return 0;
  }
  const std::string_view stream = input.rest();
  const auto expected = ringline::fuzz::reference_frame(stream, max_line);

  ringline::protocol::line_framer framer(max_line);
  check(framer.max_line_bytes() == max_line, "max_line_bytes() differs from the constructor's");
  check(framer.next().kind == frame_kind::need_more, "next() before any feed is not need_more");

  std::size_t emitted = 0;
  std::size_t consumed = 0;
  bool failed = false;
  for (std::size_t index = 0; consumed < stream.size() && !failed; ++index) {
    // Each chunk gets an allocation of exactly its size, freed once the framer asks for more:
    // ASan then reports a framer that reads past a chunk or keeps a pointer into an old one.
    const std::size_t length = chunks.size(index, stream.size() - consumed);
    auto chunk = std::make_unique<char[]>(length);
    std::memcpy(chunk.get(), stream.data() + consumed, length);
    framer.feed({chunk.get(), length});
    consumed += length;

    // Views must stay valid until the next feed, so they are checked only after need_more.
    std::vector<std::string_view> lines;
    for (;;) {
      const auto result = framer.next();
      if (result.kind == frame_kind::line) {
        lines.push_back(result.line);
        continue;
      }
      check(result.line.empty(), "need_more or too_long came with a non-empty line");
      failed = result.kind == frame_kind::too_long;
      break;
    }
    for (const auto line : lines) {
      check_line(expected, emitted++, line);
    }
    check(framer.failed() == failed, "failed() disagrees with the last next()");
    check(framer.pending_bytes() <= max_line + 1, "the framer holds more than max_line_bytes + 1");
    if (failed) {
      if (!expected.too_long) {
        fail("too_long after " + std::to_string(emitted) + " lines, but no line is too long");
      }
      break;
    }
    // Everything up to the last '\n' consumed so far has been returned as lines; the framer
    // holds exactly the bytes after it.
    const std::size_t line_start = emitted == 0 ? 0 : expected.line_ends[emitted - 1];
    if (framer.pending_bytes() != consumed - line_start) {
      fail("pending_bytes() is " + std::to_string(framer.pending_bytes()) + ", expected " +
           std::to_string(consumed - line_start));
    }
    chunk.reset();
  }

  if (emitted != expected.lines.size()) {
    fail("framer returned " + std::to_string(emitted) + " lines, expected " +
         std::to_string(expected.lines.size()));
  }
  if (failed != expected.too_long) {
    fail(expected.too_long ? "the too-long line was not reported" : "too_long was reported");
  }
  if (failed) {
    // Failed for good, whatever comes next.
    check(framer.next().kind == frame_kind::too_long, "a second next() after too_long differs");
    const char more[] = "ok\n";
    framer.feed({more, 3});
    check(framer.next().kind == frame_kind::too_long, "a feed after too_long revived the framer");
    return 0;
  }
  check(framer.next().kind == frame_kind::need_more, "next() after need_more is not need_more");
  check(framer.has_partial_line() == !expected.partial.empty(),
        "has_partial_line() disagrees with the trailing bytes");
  check(framer.pending_bytes() == expected.partial.size(), "pending_bytes() at the end is wrong");
  return 0;
}

#include "protocol/line_framer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ringline::protocol {
namespace {

using namespace std::string_literals;

/// What a framer produced from a whole input: its lines, whether it failed, and whether a
/// partial line was left over.
struct outcome {
  std::vector<std::string> lines;
  bool too_long = false;
  bool partial = false;

  bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& out, const outcome& value) {
  out << "{lines:";
  for (const auto& line : value.lines) {
    out << " \"";
    for (const char c : line) {
      if (c >= 0x20 && c < 0x7f) {
        out << c;
      } else {
        out << "\\x" << std::hex << (static_cast<unsigned>(c) & 0xffU) << std::dec;
      }
    }
    out << '"';
  }
  return out << " too_long:" << value.too_long << " partial:" << value.partial << '}';
}

/// The reference: splits the whole input on '\n' at once, so it is obviously right. A line's
/// content excludes a '\r' just before its '\n'. The trailing bytes without '\n' are a partial
/// line, already too long when they cannot end up as a line of at most `max` bytes.
outcome reference_frame(std::string_view input, std::size_t max) {
  outcome out;
  std::size_t start = 0;
  for (std::size_t end = input.find('\n'); end != std::string_view::npos;
       end = input.find('\n', start)) {
    std::string_view line = input.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() > max) {
      out.too_long = true;
      return out;
    }
    out.lines.emplace_back(line);
    start = end + 1;
  }
  const std::string_view rest = input.substr(start);
  if (rest.size() > max + 1 || (rest.size() == max + 1 && rest.back() != '\r')) {
    out.too_long = true;
  } else {
    out.partial = !rest.empty();
  }
  return out;
}

/// Feeds `input` to a framer in pieces cut at the sorted offsets `cuts`. Each piece is copied
/// into its own allocation that is freed as soon as the framer asks for more, so that a framer
/// keeping a pointer into an old chunk reads freed memory (reported under ASan). Views are
/// copied only after need_more, which checks they survive until the next feed.
outcome chunked_frame(std::string_view input, const std::vector<std::size_t>& cuts,
                      std::size_t max) {
  line_framer framer(max);
  outcome out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    std::vector<char> chunk(input.begin() + static_cast<std::ptrdiff_t>(start),
                            input.begin() + static_cast<std::ptrdiff_t>(end));
    start = end;
    framer.feed(chunk);
    std::vector<std::string_view> views;
    for (frame f = framer.next(); f.kind != frame_kind::need_more; f = framer.next()) {
      if (f.kind == frame_kind::too_long) {
        out.lines.insert(out.lines.end(), views.begin(), views.end());
        out.too_long = true;
        return out;
      }
      views.push_back(f.line);
    }
    out.lines.insert(out.lines.end(), views.begin(), views.end());
    EXPECT_LE(framer.pending_bytes(), max + 1);
  }
  out.partial = framer.has_partial_line();
  EXPECT_EQ(out.partial, framer.pending_bytes() > 0);
  return out;
}

/// Input exercising every special case: CRLF, LF, a lone '\r' in the middle and before
/// CRLF, empty lines, NUL, non-ASCII and binary bytes, and a trailing partial line.
const std::string tricky_input =
    "connect\r\n\nab\rc\n\r\n\r\rx\n"s + "n\0l\n"s + "h\xc3\xa9llo\xff\xfe\x01\n\r\r\n" + "tail\r";

outcome frame_in_one_chunk(std::string_view input, std::size_t max) {
  return chunked_frame(input, {}, max);
}

std::string_view as_text(const frame& f) {
  return f.line;
}

TEST(line_framer_test, returns_need_more_before_first_feed) {
  line_framer framer(16);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_FALSE(framer.has_partial_line());
}

TEST(line_framer_test, returns_line_in_one_chunk_as_view_into_chunk) {
  const std::string chunk = "hello\nworld\n";
  line_framer framer(16);
  framer.feed(chunk);
  const frame first = framer.next();
  ASSERT_EQ(first.kind, frame_kind::line);
  EXPECT_EQ(first.line, "hello");
  EXPECT_EQ(first.line.data(), chunk.data());
  const frame second = framer.next();
  ASSERT_EQ(second.kind, frame_kind::line);
  EXPECT_EQ(second.line.data(), chunk.data() + 6);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_FALSE(framer.has_partial_line());
}

TEST(line_framer_test, strips_carriage_return_before_newline) {
  EXPECT_EQ(frame_in_one_chunk("a\r\nb\n", 16).lines, (std::vector<std::string>{"a", "b"}));
}

TEST(line_framer_test, keeps_carriage_return_not_before_newline) {
  EXPECT_EQ(frame_in_one_chunk("a\rb\n\rc\n\r\r\n", 16).lines,
            (std::vector<std::string>{"a\rb", "\rc", "\r"}));
}

TEST(line_framer_test, strips_lone_carriage_return_at_chunk_end_when_newline_follows) {
  line_framer framer(16);
  const std::string first = "abc\r";
  const std::string second = "\n";
  framer.feed(first);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_EQ(framer.pending_bytes(), 4U);
  framer.feed(second);
  const frame f = framer.next();
  ASSERT_EQ(f.kind, frame_kind::line);
  EXPECT_EQ(f.line, "abc");
}

TEST(line_framer_test, keeps_carriage_return_at_chunk_end_when_other_bytes_follow) {
  EXPECT_EQ(chunked_frame("abc\rd\n", {4}, 16).lines, (std::vector<std::string>{"abc\rd"}));
}

TEST(line_framer_test, returns_empty_lines) {
  EXPECT_EQ(frame_in_one_chunk("\n\r\n\n", 16).lines, (std::vector<std::string>{"", "", ""}));
}

TEST(line_framer_test, carries_nul_and_binary_bytes) {
  const std::string binary = "\0\x01\xff\x80\xc3\xa9\r\x7f"s;
  const outcome out = frame_in_one_chunk(binary + "\n" + binary + "\r\n", 16);
  EXPECT_EQ(out.lines, (std::vector<std::string>{binary, binary}));
}

TEST(line_framer_test, assembles_line_spanning_chunks) {
  EXPECT_EQ(chunked_frame("hello world\nnext\n", {3, 7}, 32).lines,
            (std::vector<std::string>{"hello world", "next"}));
}

TEST(line_framer_test, assembled_line_stays_valid_after_partial_line_is_stored) {
  line_framer framer(32);
  const std::string first = "abc";
  const std::string second = "def\nghi\njk";
  framer.feed(first);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  framer.feed(second);
  const frame assembled = framer.next();
  const frame direct = framer.next();
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);  // stores "jk"
  EXPECT_EQ(as_text(assembled), "abcdef");
  EXPECT_EQ(as_text(direct), "ghi");
  EXPECT_EQ(framer.pending_bytes(), 2U);
}

TEST(line_framer_test, has_partial_line_reports_trailing_bytes) {
  const outcome out = frame_in_one_chunk("done\nnot a message", 32);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"done"}));
  EXPECT_TRUE(out.partial);
  EXPECT_FALSE(frame_in_one_chunk("done\n", 32).partial);
  EXPECT_TRUE(frame_in_one_chunk("\r", 32).partial);
}

TEST(line_framer_test, accepts_line_of_exactly_max_bytes) {
  const std::string line(8, 'x');
  for (const std::string& input : {line + "\n", line + "\r\n"}) {
    EXPECT_EQ(frame_in_one_chunk(input, 8).lines, std::vector<std::string>{line});
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
      const outcome out = chunked_frame(input, {cut}, 8);
      EXPECT_FALSE(out.too_long) << "cut at " << cut;
      EXPECT_EQ(out.lines, std::vector<std::string>{line}) << "cut at " << cut;
    }
  }
}

TEST(line_framer_test, rejects_line_of_max_plus_one_bytes) {
  const std::string line(9, 'x');
  for (const std::string& input : {line + "\n", line + "\r\n"}) {
    EXPECT_TRUE(frame_in_one_chunk(input, 8).too_long);
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
      const outcome out = chunked_frame(input, {cut}, 8);
      EXPECT_TRUE(out.too_long) << "cut at " << cut;
      EXPECT_TRUE(out.lines.empty()) << "cut at " << cut;
    }
  }
}

TEST(line_framer_test, returns_lines_before_too_long_line) {
  const outcome out = frame_in_one_chunk("ok\nalso ok\nmuch too long\nnever\n", 8);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"ok", "also ok"}));
  EXPECT_TRUE(out.too_long);
}

TEST(line_framer_test, detects_too_long_eagerly_without_newline) {
  constexpr std::size_t max = 64;
  line_framer framer(max);
  const char byte = 'x';
  std::size_t fed = 0;
  frame f{frame_kind::need_more, {}};
  while (f.kind == frame_kind::need_more && fed < 10 * max) {
    framer.feed({&byte, 1});
    ++fed;
    f = framer.next();
    ASSERT_LE(framer.pending_bytes(), max + 1);
  }
  EXPECT_EQ(f.kind, frame_kind::too_long);
  // max + 1 bytes that do not end in '\r' can no longer become a line of max bytes.
  EXPECT_EQ(fed, max + 1);
}

TEST(line_framer_test, waits_for_newline_when_max_plus_one_bytes_end_in_carriage_return) {
  line_framer framer(4);
  const std::string first = "abcd\r";
  framer.feed(first);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_EQ(framer.pending_bytes(), 5U);
  const std::string second = "\n";
  framer.feed(second);
  const frame f = framer.next();
  ASSERT_EQ(f.kind, frame_kind::line);
  EXPECT_EQ(f.line, "abcd");
}

TEST(line_framer_test, rejects_byte_after_max_plus_one_bytes_ending_in_carriage_return) {
  line_framer framer(4);
  const std::string first = "abcd\r";
  framer.feed(first);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  const std::string second = "e\n";
  framer.feed(second);
  EXPECT_EQ(framer.next().kind, frame_kind::too_long);
  EXPECT_LE(framer.pending_bytes(), 5U);
}

TEST(line_framer_test, detects_too_long_in_one_large_chunk_without_newline) {
  line_framer framer(16);
  const std::string chunk(1 << 20, 'y');
  framer.feed(chunk);
  EXPECT_EQ(framer.next().kind, frame_kind::too_long);
  EXPECT_LE(framer.pending_bytes(), 17U);
}

TEST(line_framer_test, stays_failed_after_too_long) {
  line_framer framer(2);
  const std::string bad = "toolong\n";
  framer.feed(bad);
  EXPECT_EQ(framer.next().kind, frame_kind::too_long);
  EXPECT_TRUE(framer.failed());
  EXPECT_EQ(framer.next().kind, frame_kind::too_long);
  const std::string good = "ok\n";
  framer.feed(good);
  EXPECT_EQ(framer.next().kind, frame_kind::too_long);
}

TEST(line_framer_test, max_zero_accepts_only_empty_lines) {
  EXPECT_EQ(frame_in_one_chunk("\n\r\n", 0).lines, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(frame_in_one_chunk("\nx\n", 0).too_long);
  EXPECT_TRUE(chunked_frame("\r\n", {1}, 0).lines == std::vector<std::string>{""});
}

TEST(line_framer_test, counts_pending_bytes_of_unfinished_line) {
  line_framer framer(32);
  const std::string first = "one\ntw";
  framer.feed(first);
  ASSERT_EQ(framer.next().kind, frame_kind::line);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_EQ(framer.pending_bytes(), 2U);
  const std::string second = "o";
  framer.feed(second);
  EXPECT_EQ(framer.next().kind, frame_kind::need_more);
  EXPECT_EQ(framer.pending_bytes(), 3U);
  const std::string third = "\n";
  framer.feed(third);
  const frame f = framer.next();
  ASSERT_EQ(f.kind, frame_kind::line);
  EXPECT_EQ(f.line, "two");
  EXPECT_EQ(framer.pending_bytes(), 0U);
  EXPECT_FALSE(framer.has_partial_line());
}

TEST(line_framer_test, ignores_empty_chunks) {
  EXPECT_EQ(chunked_frame("ab\ncd\n", {0, 0, 2, 2, 3, 3, 6}, 8).lines,
            (std::vector<std::string>{"ab", "cd"}));
}

TEST(line_framer_test, same_lines_for_every_split_point) {
  for (const std::size_t max : {std::size_t{64}, std::size_t{5}, std::size_t{4}, std::size_t{0}}) {
    const outcome expected = reference_frame(tricky_input, max);
    EXPECT_EQ(frame_in_one_chunk(tricky_input, max), expected) << "max " << max;
    for (std::size_t cut = 0; cut <= tricky_input.size(); ++cut) {
      ASSERT_EQ(chunked_frame(tricky_input, {cut}, max), expected)
          << "max " << max << " cut at " << cut;
    }
  }
}

TEST(line_framer_test, same_lines_for_every_pair_of_split_points) {
  for (const std::size_t max : {std::size_t{64}, std::size_t{6}}) {
    const outcome expected = reference_frame(tricky_input, max);
    for (std::size_t first = 0; first <= tricky_input.size(); ++first) {
      for (std::size_t second = first; second <= tricky_input.size(); ++second) {
        ASSERT_EQ(chunked_frame(tricky_input, {first, second}, max), expected)
            << "max " << max << " cuts at " << first << ", " << second;
      }
    }
  }
}

TEST(line_framer_test, same_lines_one_byte_at_a_time) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < tricky_input.size(); ++i) {
    cuts.push_back(i);
  }
  for (const std::size_t max : {std::size_t{64}, std::size_t{6}, std::size_t{1}}) {
    EXPECT_EQ(chunked_frame(tricky_input, cuts, max), reference_frame(tricky_input, max))
        << "max " << max;
  }
}

TEST(line_framer_test, random_chunkings_match_reference) {
  // Few distinct bytes, weighted toward '\n' and '\r', so that CRLF, lone CR, empty lines and
  // lines near the limit all come up often.
  const std::string alphabet = "ab\n\n\r\r\0\xff"s;
  std::mt19937 random(20240521);
  std::uniform_int_distribution<std::size_t> pick_byte(0, alphabet.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_size(0, 200);
  std::uniform_int_distribution<std::size_t> pick_max(0, 12);
  for (int round = 0; round < 2000; ++round) {
    std::string input(pick_size(random), '\0');
    for (char& c : input) {
      c = alphabet[pick_byte(random)];
    }
    const std::size_t max = pick_max(random);
    std::uniform_int_distribution<std::size_t> pick_cut(0, input.size());
    std::vector<std::size_t> cuts(pick_max(random));
    for (std::size_t& cut : cuts) {
      cut = pick_cut(random);
    }
    std::sort(cuts.begin(), cuts.end());
    ASSERT_EQ(chunked_frame(input, cuts, max), reference_frame(input, max))
        << "round " << round << " max " << max;
  }
}

}  // namespace
}  // namespace ringline::protocol

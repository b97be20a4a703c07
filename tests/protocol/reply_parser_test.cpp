#include "protocol/reply_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"

namespace ringline::protocol {
namespace {

using parsed = std::vector<std::pair<reply_kind, std::string>>;

/// Feeds `input` in pieces cut at the sorted offsets `cuts` and collects every reply up to
/// and including the first too_long.
parsed parse(reply_parser& parser, std::string_view input, const std::vector<std::size_t>& cuts) {
  parsed out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    const std::string chunk(input.substr(start, end - start));
    start = end;
    parser.feed(chunk);
    for (reply r = parser.next(); r.kind != reply_kind::need_more; r = parser.next()) {
      out.emplace_back(r.kind, std::string(r.text));
      if (r.kind == reply_kind::too_long) {
        return out;
      }
    }
  }
  return out;
}

parsed parse_defaults(std::string_view input, const std::vector<std::size_t>& cuts = {}) {
  reply_parser parser{std::string(default_greeting), std::string(default_ack)};
  return parse(parser, input, cuts);
}

const std::string conversation = make_line(default_greeting) + make_line(default_ack) +
                                 make_line(default_ack) + "error: idle timeout\r\n";

const parsed conversation_replies = {
    {reply_kind::greeting, "connect"},
    {reply_kind::ack, std::string(default_ack)},
    {reply_kind::ack, std::string(default_ack)},
    {reply_kind::error, "idle timeout"},
};

TEST(reply_parser_test, classifies_default_conversation) {
  EXPECT_EQ(parse_defaults(conversation), conversation_replies);
}

TEST(reply_parser_test, classifies_replies_split_at_every_point) {
  for (std::size_t cut = 0; cut <= conversation.size(); ++cut) {
    ASSERT_EQ(parse_defaults(conversation, {cut}), conversation_replies) << "cut at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < conversation.size(); ++i) {
    every_byte.push_back(i);
  }
  EXPECT_EQ(parse_defaults(conversation, every_byte), conversation_replies);
}

TEST(reply_parser_test, classifies_server_full) {
  EXPECT_EQ(parse_defaults("not connect\n"), (parsed{{reply_kind::server_full, "not connect"}}));
}

TEST(reply_parser_test, returns_error_reason_after_prefix) {
  EXPECT_EQ(parse_defaults("error: line too long\n"),
            (parsed{{reply_kind::error, "line too long"}}));
  EXPECT_EQ(parse_defaults("error: \n"), (parsed{{reply_kind::error, ""}}));
  // Without the space it is not an error line.
  EXPECT_EQ(parse_defaults("error:x\n"), (parsed{{reply_kind::other, "error:x"}}));
}

TEST(reply_parser_test, returns_other_lines_whole) {
  EXPECT_EQ(parse_defaults("hello\n\nconnect \n"), (parsed{{reply_kind::other, "hello"},
                                                           {reply_kind::other, ""},
                                                           {reply_kind::other, "connect "}}));
}

TEST(reply_parser_test, strips_carriage_return_before_newline) {
  EXPECT_EQ(parse_defaults("connect\r\nnot connect\r\n"),
            (parsed{{reply_kind::greeting, "connect"}, {reply_kind::server_full, "not connect"}}));
}

TEST(reply_parser_test, ack_must_match_exactly) {
  // The default ack ends in a space; without it the line is not an ack.
  const std::string trimmed(default_ack.substr(0, default_ack.size() - 1));
  EXPECT_EQ(parse_defaults(trimmed + "\n"), (parsed{{reply_kind::other, trimmed}}));
}

TEST(reply_parser_test, uses_configured_texts) {
  reply_parser parser{"hi", "ok"};
  EXPECT_EQ(parse(parser, "hi\nok\nconnect\n", {}), (parsed{{reply_kind::greeting, "hi"},
                                                            {reply_kind::ack, "ok"},
                                                            {reply_kind::other, "connect"}}));
}

TEST(reply_parser_test, first_line_is_greeting_when_texts_are_equal) {
  reply_parser parser{"same", "same"};
  EXPECT_EQ(parse(parser, "same\nsame\nsame\n", {}), (parsed{{reply_kind::greeting, "same"},
                                                             {reply_kind::ack, "same"},
                                                             {reply_kind::ack, "same"}}));
}

TEST(reply_parser_test, reports_too_long_reply) {
  reply_parser parser{"connect", "ok", 8};
  EXPECT_EQ(parse(parser, "connect\n123456789\nok\n", {}),
            (parsed{{reply_kind::greeting, "connect"}, {reply_kind::too_long, ""}}));
  EXPECT_EQ(parser.next().kind, reply_kind::too_long);
}

TEST(reply_parser_test, reports_too_long_reply_without_newline) {
  reply_parser parser{"connect", "ok", 8};
  EXPECT_EQ(parse(parser, std::string(100, 'x'), {3, 50}), (parsed{{reply_kind::too_long, ""}}));
}

TEST(reply_parser_test, reports_partial_line) {
  reply_parser parser{"connect", "ok"};
  EXPECT_EQ(parse(parser, "connect\no", {}), (parsed{{reply_kind::greeting, "connect"}}));
  EXPECT_TRUE(parser.has_partial_line());
}

}  // namespace
}  // namespace ringline::protocol

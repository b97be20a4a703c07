#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "protocol/line_framer.hpp"

namespace ringline::protocol {

/// Says what kind of line reply_parser::next found.
enum class reply_kind {
  need_more,    ///< The current chunk is used up; feed the next one.
  greeting,     ///< The server's greeting.
  ack,          ///< An acknowledgement of one line the client sent.
  server_full,  ///< "not connect": the server refused the connection and will close it.
  error,        ///< "error: <reason>": the server will close; reply::text is the reason.
  other,        ///< Any other line; reply::text is the whole line.
  too_long,     ///< A line exceeded max_reply_bytes; the parser has failed for good.
};

/// One result of reply_parser::next.
struct reply {
  /// What kind of line was found, or need_more / too_long.
  reply_kind kind;
  /// The reason for error, the line for other, the matched line for greeting, ack and
  /// server_full; empty for need_more and too_long.
  std::string_view text;
};

/// Classifies the lines a client receives from the server, fed in chunks of any size.
///
/// Lines are framed like the server frames them (line_framer: '\n' terminates, a '\r' before
/// it is stripped). A line equal to the greeting text is a greeting, one equal to the ack text
/// an ack; if both texts are the same, the first such line is the greeting and later ones are
/// acks. Not thread-safe; one parser belongs to one connection.
class reply_parser {
 public:
  /// The longest server line accepted unless told otherwise.
  static constexpr std::size_t default_max_reply_bytes = 65536;

  /// Creates a parser expecting `greeting_text` and `ack_text` (line contents, without '\n').
  reply_parser(std::string greeting_text, std::string ack_text,
               std::size_t max_reply_bytes = default_max_reply_bytes);

  /// Hands the parser the next received chunk; the same contract as line_framer::feed: the
  /// bytes stay alive and unchanged until next() returns need_more.
  void feed(std::span<const char> chunk) noexcept { m_framer.feed(chunk); }

  /// Returns the next classified line, need_more when the chunk is used up, or too_long
  /// (then forever) when a line exceeds max_reply_bytes. Views stay valid until the next feed.
  [[nodiscard]] reply next();

  /// Returns true when bytes of an unfinished line are held, e.g. when the server closed
  /// in the middle of a line.
  [[nodiscard]] bool has_partial_line() const noexcept { return m_framer.has_partial_line(); }

 private:
  [[nodiscard]] reply classify(std::string_view line) noexcept;

  line_framer m_framer;
  std::string m_greeting_text;
  std::string m_ack_text;
  bool m_greeted = false;
};

}  // namespace ringline::protocol

#pragma once

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>

/// A strict reader of the flat JSON objects the server's JSON log writes, one per line.
namespace ringline::test_support {

namespace detail {

inline void skip_spaces(std::string_view& text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
}

// Reads a JSON string at the front of `text` (escapes kept as written, but checked).
inline std::optional<std::string> read_json_string(std::string_view& text) {
  if (text.empty() || text.front() != '"') {
    return std::nullopt;
  }
  text.remove_prefix(1);
  std::string out;
  while (!text.empty()) {
    const char c = text.front();
    text.remove_prefix(1);
    if (c == '"') {
      return out;
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      return std::nullopt;  // a raw control character is not JSON
    }
    if (c == '\\') {
      if (text.empty() ||
          std::string_view("\"\\/bfnrtu").find(text.front()) == std::string_view::npos) {
        return std::nullopt;
      }
      out += c;
      out += text.front();
      text.remove_prefix(1);
      continue;
    }
    out += c;
  }
  return std::nullopt;
}

}  // namespace detail

/// Parses `line` as one JSON object whose values are strings, numbers, true, false or null
/// (what a flat log line holds); returns its members, each value as written (strings without
/// their quotes, escapes kept), or nullopt if `line` is not such an object.
inline std::optional<std::map<std::string, std::string>> parse_flat_json_object(
    std::string_view line) {
  std::map<std::string, std::string> members;
  detail::skip_spaces(line);
  if (line.empty() || line.front() != '{') {
    return std::nullopt;
  }
  line.remove_prefix(1);
  detail::skip_spaces(line);
  if (!line.empty() && line.front() == '}') {
    line.remove_prefix(1);
    detail::skip_spaces(line);
    return line.empty() ? std::optional(members) : std::nullopt;
  }
  for (;;) {
    auto key = detail::read_json_string(line);
    detail::skip_spaces(line);
    if (!key || line.empty() || line.front() != ':') {
      return std::nullopt;
    }
    line.remove_prefix(1);
    detail::skip_spaces(line);
    std::string value;
    if (!line.empty() && line.front() == '"') {
      auto text = detail::read_json_string(line);
      if (!text) {
        return std::nullopt;
      }
      value = *text;
    } else {
      while (!line.empty() &&
             (std::isalnum(static_cast<unsigned char>(line.front())) != 0 ||
              std::string_view("+-.").find(line.front()) != std::string_view::npos)) {
        value += line.front();
        line.remove_prefix(1);
      }
      const bool word = value == "true" || value == "false" || value == "null";
      const bool number =
          !value.empty() && (std::isdigit(static_cast<unsigned char>(value.back())) != 0);
      if (!word && !number) {
        return std::nullopt;
      }
    }
    if (!members.emplace(std::move(*key), std::move(value)).second) {
      return std::nullopt;  // a repeated key
    }
    detail::skip_spaces(line);
    if (line.empty()) {
      return std::nullopt;
    }
    const char next = line.front();
    line.remove_prefix(1);
    if (next == '}') {
      detail::skip_spaces(line);
      return line.empty() ? std::optional(members) : std::nullopt;
    }
    if (next != ',') {
      return std::nullopt;
    }
    detail::skip_spaces(line);
  }
}

}  // namespace ringline::test_support

#include "service/http_request.hpp"

#include <algorithm>

namespace ringline::service {

namespace {

// RFC 9112's request-target has no whitespace or control characters; a space inside would
// make "GET /a b HTTP/1.1" ambiguous, so it is refused rather than guessed at.
bool valid_target(std::string_view target) noexcept {
  return target.starts_with('/') && std::ranges::none_of(target, [](char c) {
           const auto byte = static_cast<unsigned char>(c);
           return byte <= 0x20 || byte == 0x7f;
         });
}

}  // namespace

http_head parse_http_head(std::string_view received) noexcept {
  // The head ends at the first empty line; some clients end lines with a bare LF.
  const bool complete = received.find("\r\n\r\n") != std::string_view::npos ||
                        received.find("\n\n") != std::string_view::npos;
  if (!complete) {
    return {};
  }
  auto line = received.substr(0, received.find('\n'));
  if (line.ends_with('\r')) {
    line.remove_suffix(1);
  }
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return {.complete = true, .target = http_target::malformed};
  }
  const auto method = line.substr(0, first_space);
  auto path = line.substr(first_space + 1, last_space - first_space - 1);
  const auto version = line.substr(last_space + 1);
  if ((version != "HTTP/1.1" && version != "HTTP/1.0") || !valid_target(path)) {
    return {.complete = true, .target = http_target::malformed};
  }
  if (method != "GET" && method != "HEAD") {
    return {.complete = true, .target = http_target::bad_method};
  }
  path = path.substr(0, path.find('?'));
  if (path == "/metrics") {
    return {.complete = true, .target = http_target::metrics};
  }
  if (path == "/health") {
    return {.complete = true, .target = http_target::health};
  }
  if (path == "/ready") {
    return {.complete = true, .target = http_target::ready};
  }
  return {.complete = true, .target = http_target::not_found};
}

}  // namespace ringline::service
